//! Evaluates one expression: `cargo run -p cairn-jsonata --example eval -- '<expr>' [input.json]`.

use cairn_jsonata::{parse, Bindings, FixedEnv};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(expr) = args.next() else {
        eprintln!("usage: eval '<expr>' [input.json]");
        std::process::exit(2);
    };
    let input: Option<serde_json::Value> = args.next().map(|path| {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2)
        });
        serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!("{path} is not JSON: {e}");
            std::process::exit(2)
        })
    });
    let result = parse(&expr)
        .and_then(|e| e.evaluate(input.as_ref(), &Bindings::new(), &mut FixedEnv::default()));
    match result {
        Ok(Some(v)) => println!("{v}"),
        Ok(None) => println!("(undefined)"),
        Err(e) => {
            println!("error {} at {:?}: {}", e.code, e.position, e.message);
            std::process::exit(1);
        }
    }
}
