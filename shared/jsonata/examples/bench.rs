//! Rough throughput check: `cargo run --release -p cairn-jsonata --example bench`.

use std::time::Instant;

use cairn_jsonata::{parse, Bindings, FixedEnv};
use serde_json::json;

fn main() {
    let cases = [
        ("field", "$states.input.order.id"),
        ("arith", "$states.input.order.qty * $states.input.order.price"),
        ("map+sum", "$sum($states.input.items.(price * qty))"),
        ("object", "{'id': $states.input.order.id, 'total': $sum($states.input.items.price), 'n': $count($states.input.items)}"),
        ("filter", "$states.input.items[price > 2].name"),
        ("string", "$uppercase($states.input.order.id) & '-' & $string($states.input.order.qty)"),
    ];
    let states = json!({
        "input": {
            "order": {"id": "abc-123", "qty": 3, "price": 2.5},
            "items": [
                {"name": "a", "price": 1, "qty": 2},
                {"name": "b", "price": 3, "qty": 1},
                {"name": "c", "price": 5, "qty": 4}
            ]
        }
    });
    let bindings = Bindings::new().with("states", states);
    let mut env = FixedEnv::default();
    let n = 100_000;
    for (name, src) in cases {
        let expr = parse(src).expect("parses");
        let start = Instant::now();
        for _ in 0..n {
            let _ = expr.evaluate(None, &bindings, &mut env).expect("evaluates");
        }
        let per = start.elapsed().as_secs_f64() / f64::from(n) * 1e6;
        let start = Instant::now();
        for _ in 0..n / 10 {
            let _ = parse(src).expect("parses");
        }
        let parse_per = start.elapsed().as_secs_f64() / f64::from(n / 10) * 1e6;
        println!("{name:10} evaluate {per:7.2} us   parse {parse_per:7.2} us");
    }
    // A large payload (about 200 KB): the cost of handing it to the evaluator.
    let items: Vec<serde_json::Value> = (0..2000)
        .map(|i| json!({"id": format!("item-{i}"), "price": i, "tags": ["a", "b"], "note": "x".repeat(40)}))
        .collect();
    let big = Bindings::new().with("states", json!({"input": {"items": items}}));
    let expr = parse("$states.input.items[0].id").expect("parses");
    let start = Instant::now();
    for _ in 0..200 {
        let _ = expr.evaluate(None, &big, &mut env).expect("evaluates");
    }
    let per = start.elapsed().as_secs_f64() / 200.0 * 1e6;
    println!("big input  evaluate {per:7.2} us");
}
