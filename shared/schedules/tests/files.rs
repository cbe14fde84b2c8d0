//! The schedules file the template ships and the example functions/README.md documents both
//! parse with the parser the custom resource uses, so neither fails a deploy.

use cairn_schedules::{SchedulesFile, StackPlace};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn place() -> StackPlace {
    StackPlace::from_arn("arn:aws:cloudformation:eu-west-1:123456789012:stack/cairn/guid").unwrap()
}

#[test]
fn the_shipped_schedules_file_parses() {
    let text = std::fs::read_to_string(format!(
        "{ROOT}/functions/schedule/schedules/schedules.json"
    ))
    .expect("the file the SchedulesLayer ships");
    SchedulesFile::parse(&text).expect("a valid schedules file");
}

#[test]
fn the_readme_example_parses_with_every_field_it_documents() {
    let readme = std::fs::read_to_string(format!("{ROOT}/functions/README.md")).unwrap();
    let section = &readme[readme.find("### Schedules").expect("a Schedules section")..];
    let start = section.find("```json\n").expect("a JSON example") + "```json\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let file = SchedulesFile::parse(example).expect("the README's example is valid");
    let desired = file.desired(&place());
    assert_eq!(desired.len(), 3);
    // Each field of the README's table is used by the example.
    let (report, cleanup, new_year) = (&desired[0], &desired[1], &desired[2]);
    assert_eq!(report.timezone, "Europe/Paris");
    assert_eq!(
        report.target_input["stateMachineArn"],
        "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-report"
    );
    assert!(report.description.is_some());
    assert!(!cleanup.enabled);
    assert_eq!(cleanup.target_input["input"]["olderThanDays"], 30);
    assert!(new_year.expression.starts_with("at("));
    assert_eq!(new_year.timezone, "UTC");
    let table = &section[section.find("| field |").unwrap()..];
    for field in [
        "name",
        "expression",
        "timezone",
        "stateMachine",
        "input",
        "enabled",
        "description",
    ] {
        assert!(
            table.contains(&format!("| `{field}` |")),
            "{field} documented"
        );
        assert!(
            example.contains(&format!("\"{field}\"")),
            "{field} in the example"
        );
    }
}
