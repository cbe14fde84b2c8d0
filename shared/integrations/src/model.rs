//! The services' published API models, in botocore's JSON form: what an action is called on
//! the wire, which protocol carries it, and the shapes of its request, response and errors.
//!
//! A set of models ships inside the crate (gzipped, documentation stripped); a directory laid
//! out as botocore's `data/` (`<service>/<version>/service-2.json[.gz]`) adds or replaces
//! services without new code.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The models that ship with Cairn, by botocore service name.
const BUNDLED: &[(&str, &[u8])] = &[
    ("dynamodb", include_bytes!("../models/dynamodb.json.gz")),
    ("events", include_bytes!("../models/events.json.gz")),
    ("lambda", include_bytes!("../models/lambda.json.gz")),
    ("logs", include_bytes!("../models/logs.json.gz")),
    ("s3", include_bytes!("../models/s3.json.gz")),
    (
        "secretsmanager",
        include_bytes!("../models/secretsmanager.json.gz"),
    ),
    ("sns", include_bytes!("../models/sns.json.gz")),
    ("sqs", include_bytes!("../models/sqs.json.gz")),
    ("ssm", include_bytes!("../models/ssm.json.gz")),
    (
        "stepfunctions",
        include_bytes!("../models/stepfunctions.json.gz"),
    ),
    ("sts", include_bytes!("../models/sts.json.gz")),
];

/// The botocore names of the bundled models.
pub fn bundled_services() -> impl Iterator<Item = &'static str> {
    BUNDLED.iter().map(|(name, _)| *name)
}

/// Step Functions names a few services differently from the models' directories
/// (`aws-sdk:sfn:startExecution`, `aws-sdk:eventbridge:putEvents`,
/// `aws-sdk:cloudwatchlogs:putLogEvents`).
pub fn botocore_name(sfn_service: &str) -> &str {
    match sfn_service {
        "sfn" => "stepfunctions",
        "eventbridge" => "events",
        "cloudwatchlogs" => "logs",
        other => other,
    }
}

/// Why a model could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("no API model for the service '{0}': Cairn bundles {bundled}; set CAIRN_AWS_MODELS to a directory laid out as botocore's data/ for others", bundled = bundled_services().collect::<Vec<_>>().join(", "))]
    Unknown(String),
    #[error("the API model of '{service}' cannot be read: {reason}")]
    Unreadable { service: String, reason: String },
}

/// One service's API model.
#[derive(Debug)]
pub struct ServiceModel {
    /// The botocore service name (`dynamodb`, `stepfunctions`).
    pub name: String,
    json: Value,
}

static EMPTY: Value = Value::Null;

impl ServiceModel {
    pub fn from_json(name: impl Into<String>, json: Value) -> ServiceModel {
        ServiceModel {
            name: name.into(),
            json,
        }
    }

    pub fn metadata(&self) -> &Value {
        self.json.get("metadata").unwrap_or(&EMPTY)
    }

    fn metadata_text(&self, key: &str) -> Option<&str> {
        self.metadata().get(key).and_then(Value::as_str)
    }

    /// `json`, `rest-json`, `rest-xml`, `query` or `ec2`.
    pub fn protocol(&self) -> &str {
        self.metadata_text("protocol").unwrap_or("json")
    }

    /// The model's `serviceId` (`DynamoDB`, `SFN`, `Secrets Manager`).
    pub fn service_id(&self) -> &str {
        self.metadata_text("serviceId").unwrap_or(&self.name)
    }

    /// The name requests are signed for (`states` for Step Functions).
    pub fn signing_name(&self) -> &str {
        self.metadata_text("signingName")
            .or_else(|| self.metadata_text("endpointPrefix"))
            .unwrap_or(&self.name)
    }

    /// The host prefix of the service's endpoints (`states`, `dynamodb`).
    pub fn endpoint_prefix(&self) -> &str {
        self.metadata_text("endpointPrefix").unwrap_or(&self.name)
    }

    pub fn api_version(&self) -> &str {
        self.metadata_text("apiVersion").unwrap_or_default()
    }

    /// The operation named as the model names it (`PutItem`).
    pub fn operation(&self, name: &str) -> Option<&Value> {
        self.json.get("operations")?.get(name)
    }

    /// The operation a Step Functions action names (`putItem`, `listObjectsV2`): the model's
    /// operation whose name matches once its first letter is capitalised.
    pub fn operation_for_action(&self, action: &str) -> Option<(&str, &Value)> {
        let wanted = pascal_first(action);
        let operations = self.json.get("operations")?.as_object()?;
        operations
            .get_key_value(wanted.as_str())
            .map(|(name, op)| (name.as_str(), op))
    }

    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.json.get("shapes")?.get(name)
    }

    /// The shape a reference (`{"shape": "Name", ...}`) points at.
    pub fn resolve<'a>(&'a self, reference: &Value) -> Option<&'a Value> {
        self.shape(reference.get("shape")?.as_str()?)
    }

    /// Whether the shape is an error the model declares (`"exception": true`).
    pub fn is_exception(&self, name: &str) -> bool {
        self.shape(name)
            .and_then(|s| s.get("exception"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The modelled error shape a wire error code stands for: the shape of that name, or the
    /// one whose `error.code` is that code (SNS's `InvalidParameter` is the shape
    /// `InvalidParameterException`).
    pub fn error_shape_for_code(&self, code: &str) -> Option<&str> {
        let shapes = self.json.get("shapes")?.as_object()?;
        if shapes.get(code).is_some_and(is_exception_shape) {
            return shapes.get_key_value(code).map(|(k, _)| k.as_str());
        }
        shapes
            .iter()
            .find(|(_, shape)| {
                is_exception_shape(shape)
                    && shape
                        .get("error")
                        .and_then(|e| e.get("code"))
                        .and_then(Value::as_str)
                        == Some(code)
            })
            .map(|(name, _)| name.as_str())
    }
}

fn is_exception_shape(shape: &Value) -> bool {
    shape.get("exception").and_then(Value::as_bool) == Some(true)
}

/// `putItem` → `PutItem`.
pub fn pascal_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Loads models on first use and keeps them.
#[derive(Debug, Default)]
pub struct Models {
    directory: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Arc<ServiceModel>>>,
}

impl Models {
    /// The bundled models, and those under `directory` (botocore's `data/` layout), which
    /// win over the bundled ones.
    pub fn new(directory: Option<PathBuf>) -> Models {
        Models {
            directory,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The model of a service as Step Functions names it (`sfn`, `s3`, `dynamodb`).
    pub fn get(&self, sfn_service: &str) -> Result<Arc<ServiceModel>, ModelError> {
        let name = botocore_name(sfn_service);
        if let Some(model) = self.loaded.lock().map_err(poisoned)?.get(name) {
            return Ok(Arc::clone(model));
        }
        let model = Arc::new(self.load(name)?);
        self.loaded
            .lock()
            .map_err(poisoned)?
            .insert(name.to_owned(), Arc::clone(&model));
        Ok(model)
    }

    fn load(&self, name: &str) -> Result<ServiceModel, ModelError> {
        let unreadable = |reason: String| ModelError::Unreadable {
            service: name.to_owned(),
            reason,
        };
        if let Some(path) = self
            .directory
            .as_deref()
            .and_then(|dir| newest_model_file(dir, name))
        {
            let bytes =
                std::fs::read(&path).map_err(|e| unreadable(format!("{}: {e}", path.display())))?;
            let gzipped = path.extension().is_some_and(|e| e == "gz");
            return parse(name, &bytes, gzipped).map_err(unreadable);
        }
        let (_, bytes) = BUNDLED
            .iter()
            .find(|(bundled, _)| *bundled == name)
            .ok_or_else(|| ModelError::Unknown(name.to_owned()))?;
        parse(name, bytes, true).map_err(unreadable)
    }
}

fn poisoned<T>(_: T) -> ModelError {
    ModelError::Unreadable {
        service: String::new(),
        reason: "the model cache was poisoned by a panic".into(),
    }
}

/// `<dir>/<name>/<newest version>/service-2.json[.gz]`.
fn newest_model_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir(dir.join(name))
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    versions.sort();
    versions.into_iter().rev().find_map(|version| {
        ["service-2.json.gz", "service-2.json"]
            .iter()
            .map(|file| version.join(file))
            .find(|path| path.is_file())
    })
}

fn parse(name: &str, bytes: &[u8], gzipped: bool) -> Result<ServiceModel, String> {
    let text = if gzipped {
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| format!("not gzip: {e}"))?;
        text
    } else {
        bytes.to_vec()
    };
    let json: Value = serde_json::from_slice(&text).map_err(|e| format!("not JSON: {e}"))?;
    if json.get("operations").is_none() || json.get("shapes").is_none() {
        return Err("not an API model (no operations or shapes)".into());
    }
    Ok(ServiceModel::from_json(name, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_model_loads_with_its_protocol() {
        let models = Models::new(None);
        let expected = [
            ("dynamodb", "json"),
            ("events", "json"),
            ("lambda", "rest-json"),
            ("cloudwatchlogs", "json"),
            ("s3", "rest-xml"),
            ("secretsmanager", "json"),
            ("sns", "query"),
            ("sqs", "json"),
            ("ssm", "json"),
            ("sfn", "json"),
            ("sts", "query"),
        ];
        for (service, protocol) in expected {
            let model = models.get(service).unwrap();
            assert_eq!(model.protocol(), protocol, "{service}");
        }
        assert_eq!(models.get("sfn").unwrap().signing_name(), "states");
        assert!(matches!(models.get("ec2"), Err(ModelError::Unknown(name)) if name == "ec2"));
    }

    #[test]
    fn actions_find_their_operations_and_wire_codes_their_shapes() {
        let models = Models::new(None);
        let dynamodb = models.get("dynamodb").unwrap();
        let (name, op) = dynamodb.operation_for_action("putItem").unwrap();
        assert_eq!(name, "PutItem");
        assert_eq!(op["input"]["shape"], "PutItemInput");
        assert!(dynamodb.operation_for_action("noSuchAction").is_none());
        assert_eq!(
            dynamodb.error_shape_for_code("ResourceNotFoundException"),
            Some("ResourceNotFoundException")
        );
        // DynamoDB does not model ValidationException: it is nobody's shape.
        assert_eq!(dynamodb.error_shape_for_code("ValidationException"), None);
        let sns = models.get("sns").unwrap();
        assert_eq!(
            sns.error_shape_for_code("InvalidParameter"),
            Some("InvalidParameterException")
        );
    }

    #[test]
    fn a_directory_of_models_adds_services() {
        let dir = std::env::temp_dir().join(format!("cairn-models-{}", std::process::id()));
        let version = dir.join("kinesis").join("2013-12-02");
        std::fs::create_dir_all(&version).unwrap();
        std::fs::write(
            version.join("service-2.json"),
            r#"{"metadata":{"protocol":"json","serviceId":"Kinesis"},"operations":{"PutRecord":{}},"shapes":{}}"#,
        )
        .unwrap();
        let models = Models::new(Some(dir.clone()));
        let kinesis = models.get("kinesis").unwrap();
        assert_eq!(kinesis.service_id(), "Kinesis");
        assert!(kinesis.operation_for_action("putRecord").is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
