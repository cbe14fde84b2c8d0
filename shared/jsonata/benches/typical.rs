//! Typical ASL expressions, one evaluation per iteration (parsed once), against a realistic
//! `$states`: `cargo bench -p cairn-jsonata --bench typical -- --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use cairn_jsonata::{parse, Bindings, FixedEnv};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;

/// About 1 KB of state input, plus the context object the interpreter binds.
fn states() -> serde_json::Value {
    json!({
        "input": {
            "order": {
                "id": "ord-2024-000187",
                "customerId": "cus-88213",
                "createdAt": "2024-11-25T10:15:30.123Z",
                "currency": "EUR",
                "status": "PENDING",
                "qty": 3,
                "price": 2.5
            },
            "name": "Ada Lovelace",
            "email": "ada@example.com",
            "shipping": {
                "street": "12 Analytical Engine Way",
                "city": "London",
                "postcode": "NW1 6XE",
                "country": "GB",
                "express": false
            },
            "items": [
                {"sku": "SKU-001", "name": "Notebook", "price": 4.5, "qty": 2, "tags": ["paper", "a5"]},
                {"sku": "SKU-002", "name": "Fountain pen", "price": 32, "qty": 1, "tags": ["pen"]},
                {"sku": "SKU-003", "name": "Ink cartridge", "price": 6.25, "qty": 5, "tags": ["ink", "blue"]},
                {"sku": "SKU-004", "name": "Blotting paper", "price": 3, "qty": 1, "tags": ["paper"]},
                {"sku": "SKU-005", "name": "Pencil case", "price": 12.9, "qty": 1, "tags": ["case", "leather"]}
            ],
            "coupon": {"code": "WINTER10", "percent": 10},
            "notes": "Please leave the parcel with the concierge if nobody answers the door.",
            "metadata": {"source": "web", "campaign": "newsletter-2024-11", "attempt": 1, "trace": "1-673f1c2a-5e0f2c6d7a3b4c1d2e3f4a5b"}
        },
        "context": {
            "Execution": {
                "Id": "arn:aws:states:us-east-1:123456789012:execution:OrderFlow:4d1f0c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f",
                "Input": {"order": {"id": "ord-2024-000187"}},
                "Name": "4d1f0c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f",
                "RoleArn": "arn:aws:iam::123456789012:role/StepFunctions-OrderFlow",
                "StartTime": "2024-11-25T10:15:31.000Z",
                "RedriveCount": 0
            },
            "State": {"EnteredTime": "2024-11-25T10:15:31.250Z", "Name": "Summarise", "RetryCount": 0},
            "StateMachine": {
                "Id": "arn:aws:states:us-east-1:123456789012:stateMachine:OrderFlow",
                "Name": "OrderFlow"
            }
        }
    })
}

fn typical(c: &mut Criterion) {
    let cases = [
        ("field_access", "$states.input.order.id"),
        ("sum", "$sum($states.input.items.price)"),
        ("string_concat", "'Hello ' & $states.input.name"),
        (
            "object_construction",
            r#"{"id": $states.input.order.id, "total": $sum($states.input.items.price), "n": $count($states.input.items)}"#,
        ),
    ];
    let bindings = Bindings::new().with("states", states());
    let mut env = FixedEnv::default();
    let mut group = c.benchmark_group("typical");
    for (name, src) in cases {
        let expr = parse(src).unwrap_or_else(|e| panic!("{src} does not parse: {e}"));
        // Guard against benchmarking an error path.
        assert!(matches!(
            expr.evaluate(None, &bindings, &mut env),
            Ok(Some(_))
        ));
        group.bench_function(name, |b| {
            b.iter(|| expr.evaluate(None, black_box(&bindings), &mut env))
        });
    }
    group.finish();
}

criterion_group!(benches, typical);
criterion_main!(benches);
