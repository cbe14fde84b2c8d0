use cairn_dataflow::{ChoiceRule, PayloadTemplate};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[$a-zA-Z.\\[\\]*()'0-9 ]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("$.a"),
            Just("$$.Execution.Id"),
            Just("$.t"),
            Just("States.Format('{}', $.a[0])"),
            Just("States.UUID()"),
            Just("$.b.c")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("Variable".to_owned()),
                        Just("Next".to_owned()),
                        Just("And".to_owned()),
                        Just("Or".to_owned()),
                        Just("Not".to_owned()),
                        Just("StringEquals".to_owned()),
                        Just("IsPresent".to_owned()),
                        Just("NumericLessThanPath".to_owned()),
                        Just("TimestampEquals".to_owned()),
                        Just("StringMatches".to_owned()),
                        Just("x.$".to_owned()),
                        "[a-z]{1,3}(\\.\\$)?"
                    ],
                    inner
                ),
                0..4
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn compile_and_evaluate_never_panic(v in json_value()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        cairn_dataflow::fuzz_compile(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        cairn_dataflow::fuzz_compile(&bytes);
        cairn_dataflow::fuzz_path(&bytes);
        let _ = ChoiceRule::compile(&Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        let _ = PayloadTemplate::compile(&Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    }
}
