//! What to deploy (the answers are in [`crate::wire::deployment`]).

/// What to deploy: a name and one or more resources (`.bpmn` files).
///
/// ```
/// use bptl_camunda::DeploymentRequest;
/// let request = DeploymentRequest::new("orders")
///     .resource("order.bpmn", b"<definitions/>".to_vec())
///     .enable_duplicate_filtering(true);
/// assert_eq!(request.resources.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeploymentRequest {
    /// The deployment name.
    pub name: String,
    /// The deployment source.
    pub source: Option<String>,
    /// The tenant.
    pub tenant_id: Option<String>,
    /// Skip the deployment when nothing changed.
    pub enable_duplicate_filtering: bool,
    /// Redeploy only changed resources.
    pub deploy_changed_only: bool,
    /// The resources: file name and content.
    pub resources: Vec<(String, Vec<u8>)>,
}

impl DeploymentRequest {
    /// A deployment with a name and no resources yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Add a resource.
    pub fn resource(mut self, filename: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        self.resources.push((filename.into(), content.into()));
        self
    }

    /// Skip the deployment when nothing changed.
    pub fn enable_duplicate_filtering(mut self, enable: bool) -> Self {
        self.enable_duplicate_filtering = enable;
        self
    }

    /// The multipart/form-data body and its boundary.
    pub(crate) fn multipart(&self) -> (String, Vec<u8>) {
        let boundary = format!("bptl-{:032x}", rand::random::<u128>());
        let mut body = Vec::new();
        let mut field = |name: &str, filename: Option<&str>, content: &[u8]| {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!(
                "Content-Disposition: form-data; name=\"{}\"",
                escape_header(name)
            );
            if let Some(filename) = filename {
                disposition.push_str(&format!("; filename=\"{}\"", escape_header(filename)));
                disposition.push_str("\r\nContent-Type: application/octet-stream");
            }
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        field("deployment-name", None, self.name.as_bytes());
        if let Some(source) = &self.source {
            field("deployment-source", None, source.as_bytes());
        }
        if let Some(tenant) = &self.tenant_id {
            field("tenant-id", None, tenant.as_bytes());
        }
        if self.enable_duplicate_filtering {
            field("enable-duplicate-filtering", None, b"true");
        }
        if self.deploy_changed_only {
            field("deploy-changed-only", None, b"true");
        }
        for (filename, content) in &self.resources {
            field(filename, Some(filename), content);
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (boundary, body)
    }
}

/// Quotes and line breaks cannot appear in a quoted header parameter: percent-encode them as
/// browsers do.
fn escape_header(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}
