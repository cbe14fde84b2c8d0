//! A Distributed Map over an S3 inventory (ItemReader InputType MANIFEST): the manifest is
//! read first, then each data file it lists, all outside the history.

use cairn_interpreter::{Event, Execution, Machine};
use serde_json::{json, Value};

mod support;
use support::{at, info, invoked};

fn machine() -> Machine {
    Machine::from_json(
        &json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "MANIFEST", "MaxItems": 3},
                       "Parameters": {"Bucket": "inv", "Key": "m/manifest.json"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
    )
    .unwrap()
}

#[test]
fn the_manifest_then_each_data_file() {
    let m = machine();
    let (mut exec, d) = Execution::start(&m, json!({}), info(), &at(0));
    assert_eq!(
        invoked(&d),
        [(1, json!({"Bucket": "inv", "Key": "m/manifest.json"}))]
    );
    let manifest = json!({
        "sourceBucket": "src", "destinationBucket": "arn:aws:s3:::inv", "version": "2016-11-30",
        "fileFormat": "CSV", "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "m/data/a.csv.gz", "size": 1}, {"key": "m/data/b.csv.gz", "size": 1}]
    });
    let d = exec.apply(
        &m,
        Event::TaskSucceeded {
            task_id: 1,
            output: Value::String(manifest.to_string()),
        },
        &at(1),
    );
    assert!(d.history.is_empty());
    assert_eq!(
        invoked(&d),
        [
            (2, json!({"Bucket": "inv", "Key": "m/data/a.csv.gz"})),
            (3, json!({"Bucket": "inv", "Key": "m/data/b.csv.gz"}))
        ]
    );
    // The files may answer in any order; the items keep the manifest's order.
    let b = "\"src\",\"k3\",\"30\",\"2022-11-16T00:29:32.000Z\"\n";
    let d = exec.apply(
        &m,
        Event::TaskSucceeded {
            task_id: 3,
            output: json!(b),
        },
        &at(2),
    );
    assert!(d.history.is_empty());
    let a = "\"src\",\"k1\",\"10\",\"2022-11-16T00:29:32.000Z\"\n\"src\",\"k2\",\"20\",\"2022-11-16T00:29:33.000Z\"\n";
    exec.apply(
        &m,
        Event::TaskSucceeded {
            task_id: 2,
            output: json!(a),
        },
        &at(3),
    );
    assert_eq!(
        exec.output(),
        Some(&json!([
            {"Bucket": "src", "Key": "k1", "Size": "10", "LastModifiedDate": "2022-11-16T00:29:32.000Z"},
            {"Bucket": "src", "Key": "k2", "Size": "20", "LastModifiedDate": "2022-11-16T00:29:33.000Z"},
            {"Bucket": "src", "Key": "k3", "Size": "30", "LastModifiedDate": "2022-11-16T00:29:32.000Z"}
        ]))
    );
}

#[test]
fn a_parquet_inventory_is_refused_clearly() {
    let m = machine();
    let (mut exec, _) = Execution::start(&m, json!({}), info(), &at(0));
    let manifest = json!({"destinationBucket": "arn:aws:s3:::inv", "fileFormat": "Parquet",
        "fileSchema": "message s3.inventory { required binary bucket; }", "files": []});
    exec.apply(
        &m,
        Event::TaskSucceeded {
            task_id: 1,
            output: Value::String(manifest.to_string()),
        },
        &at(1),
    );
    assert_eq!(
        (exec.error(), exec.cause()),
        (
            Some("States.ItemReaderFailed"),
            Some("S3 inventory fileFormat Parquet is not supported: only CSV inventories can be read")
        )
    );
}
