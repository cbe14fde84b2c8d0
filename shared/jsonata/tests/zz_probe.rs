#[test]
fn probe() {
    let e = cairn_jsonata::parse("[[[[1]]]]").unwrap();
    let e2 =
        cairn_jsonata::parse("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(3))").unwrap();
    let _ = e.evaluate(
        None,
        &Default::default(),
        &mut cairn_jsonata::FixedEnv::default(),
    );
    let _ = e2.evaluate(
        None,
        &Default::default(),
        &mut cairn_jsonata::FixedEnv::default(),
    );
}
