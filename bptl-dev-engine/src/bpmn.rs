//! The BPMN subset the dev engine executes.
//!
//! Supported: one plain start event, service tasks with `camunda:type="external"` and
//! `camunda:topic` (optional `camunda:taskPriority`, `camunda:properties`), end events,
//! sequence flows, and error boundary events on service tasks. Everything else is refused
//! with an error naming the element and its id.

use std::collections::{BTreeMap, HashMap};

use roxmltree::{Document, Node};

const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
const CAMUNDA_NS: &str = "http://camunda.org/schema/1.0/bpmn";

/// One node of an executable process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    /// The plain start event.
    Start,
    /// An external service task.
    ServiceTask(ServiceTask),
    /// An end event.
    End,
    /// An error boundary event.
    Boundary(ErrorBoundary),
}

/// An external service task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceTask {
    /// `camunda:topic`.
    pub topic: String,
    /// `camunda:taskPriority` (0 when absent).
    pub priority: i64,
    /// `camunda:properties` from `extensionElements`.
    pub extension_properties: BTreeMap<String, String>,
}

/// An error boundary event attached to a service task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ErrorBoundary {
    /// The element id.
    pub id: String,
    /// The caught error code; `None` catches every BPMN error.
    pub error_code: Option<String>,
    /// `camunda:errorCodeVariable`.
    pub code_variable: Option<String>,
    /// `camunda:errorMessageVariable`.
    pub message_variable: Option<String>,
}

/// An executable process parsed from a BPMN file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProcessModel {
    /// The process id, i.e. the definition key.
    pub key: String,
    /// The process name.
    pub name: Option<String>,
    /// `camunda:versionTag`.
    pub version_tag: Option<String>,
    /// `camunda:historyTimeToLive` in days (`P5D` or `5`).
    pub history_ttl_days: Option<i64>,
    /// `targetNamespace` of the definitions (Camunda's `category`).
    pub category: Option<String>,
    /// The id of the start event.
    pub start: String,
    /// All flow nodes by id.
    pub nodes: HashMap<String, NodeKind>,
    /// The single outgoing sequence flow target of each node.
    pub next: HashMap<String, String>,
    /// Error boundary events by the id of the task they are attached to; specific codes first.
    pub boundaries: HashMap<String, Vec<ErrorBoundary>>,
}

impl ProcessModel {
    /// The boundary that catches `code` on `activity`: the one with that code, else a catch-all.
    pub(crate) fn catching_boundary(&self, activity: &str, code: &str) -> Option<&ErrorBoundary> {
        let list = self.boundaries.get(activity)?;
        list.iter()
            .find(|b| b.error_code.as_deref() == Some(code))
            .or_else(|| list.iter().find(|b| b.error_code.is_none()))
    }
}

fn is_bpmn(node: &Node<'_, '_>) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(BPMN_NS)
}

fn describe(node: &Node<'_, '_>) -> String {
    format!(
        "element '{}' with id '{}'",
        node.tag_name().name(),
        node.attribute("id").unwrap_or("")
    )
}

/// A history time to live in days: `P5D` or `5`, as Camunda accepts it.
fn ttl_days(text: &str) -> Option<i64> {
    let text = text.trim();
    let days = text
        .strip_prefix('P')
        .and_then(|t| t.strip_suffix('D'))
        .unwrap_or(text);
    days.parse().ok().filter(|d| *d >= 0)
}

fn camunda_attr<'a>(node: &Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attribute((CAMUNDA_NS, name))
}

/// Checks that a flow node only has harmless children; returns extension properties found.
fn check_children(node: &Node<'_, '_>, errors: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut props = BTreeMap::new();
    for child in node.children().filter(|c| c.is_element()) {
        if !is_bpmn(&child) {
            continue;
        }
        match child.tag_name().name() {
            "documentation" | "incoming" | "outgoing" => {}
            "extensionElements" => {
                for p in child.descendants().filter(|d| {
                    d.is_element()
                        && d.tag_name().namespace() == Some(CAMUNDA_NS)
                        && d.tag_name().name() == "property"
                }) {
                    if let (Some(name), Some(value)) = (p.attribute("name"), p.attribute("value")) {
                        props.insert(name.to_string(), value.to_string());
                    }
                }
            }
            other => errors.push(format!(
                "Unsupported {} inside {}: the dev engine does not support '{other}'",
                describe(&child),
                describe(node)
            )),
        }
    }
    props
}

/// Parses a BPMN document into its executable processes.
///
/// On failure returns the list of problems, each naming the element and its id.
pub(crate) fn parse_bpmn(xml: &str) -> Result<Vec<ProcessModel>, Vec<String>> {
    let doc = Document::parse(xml).map_err(|e| vec![format!("Invalid XML: {e}")])?;
    let root = doc.root_element();
    if !(is_bpmn(&root) && root.tag_name().name() == "definitions") {
        return Err(vec![format!(
            "The root element must be bpmn:definitions, found '{}'",
            root.tag_name().name()
        )]);
    }
    let category = root.attribute("targetNamespace").map(str::to_string);
    let mut error_codes: HashMap<&str, Option<String>> = HashMap::new();
    for err in root
        .children()
        .filter(|c| is_bpmn(c) && c.tag_name().name() == "error")
    {
        if let Some(id) = err.attribute("id") {
            error_codes.insert(id, err.attribute("errorCode").map(str::to_string));
        }
    }
    let mut errors = Vec::new();
    let mut models = Vec::new();
    for process in root
        .children()
        .filter(|c| is_bpmn(c) && c.tag_name().name() == "process")
    {
        if process.attribute("isExecutable") == Some("false") {
            continue;
        }
        if let Some(model) = parse_process(&process, &error_codes, category.clone(), &mut errors) {
            models.push(model);
        }
    }
    if errors.is_empty() {
        Ok(models)
    } else {
        Err(errors)
    }
}

fn parse_process(
    process: &Node<'_, '_>,
    error_codes: &HashMap<&str, Option<String>>,
    category: Option<String>,
    errors: &mut Vec<String>,
) -> Option<ProcessModel> {
    let key = match process.attribute("id") {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            errors.push("A process has no id".to_string());
            return None;
        }
    };
    let mut nodes = HashMap::new();
    let mut starts = Vec::new();
    let mut flows: Vec<(String, String, String)> = Vec::new();
    let mut boundaries: Vec<(String, String, ErrorBoundary)> = Vec::new();
    for child in process.children().filter(|c| c.is_element()) {
        if !is_bpmn(&child) {
            continue;
        }
        let id = child.attribute("id").unwrap_or("").to_string();
        match child.tag_name().name() {
            "documentation" | "extensionElements" | "laneSet" | "textAnnotation"
            | "association" => {}
            "startEvent" => {
                check_children(&child, errors);
                starts.push(id.clone());
                nodes.insert(id, NodeKind::Start);
            }
            "endEvent" => {
                check_children(&child, errors);
                nodes.insert(id, NodeKind::End);
            }
            "serviceTask" => {
                let props = check_children(&child, errors);
                if camunda_attr(&child, "type") != Some("external") {
                    errors.push(format!(
                        "Unsupported {}: the dev engine only runs service tasks with camunda:type=\"external\"",
                        describe(&child)
                    ));
                    continue;
                }
                let Some(topic) = camunda_attr(&child, "topic").filter(|t| !t.is_empty()) else {
                    errors.push(format!("{} has no camunda:topic", describe(&child)));
                    continue;
                };
                let priority = match camunda_attr(&child, "taskPriority") {
                    None => 0,
                    Some(p) => match p.trim().parse::<i64>() {
                        Ok(p) => p,
                        Err(_) => {
                            errors.push(format!(
                                "{} has camunda:taskPriority '{p}': the dev engine only supports number literals",
                                describe(&child)
                            ));
                            continue;
                        }
                    },
                };
                nodes.insert(
                    id,
                    NodeKind::ServiceTask(ServiceTask {
                        topic: topic.to_string(),
                        priority,
                        extension_properties: props,
                    }),
                );
            }
            "boundaryEvent" => {
                let attached = child.attribute("attachedToRef").unwrap_or("").to_string();
                let mut definition = None;
                for c in child.children().filter(|c| is_bpmn(c)) {
                    match c.tag_name().name() {
                        "documentation" | "extensionElements" | "incoming" | "outgoing" => {}
                        "errorEventDefinition" if definition.is_none() => definition = Some(c),
                        _ => errors.push(format!(
                            "Unsupported {} inside {}: the dev engine only supports error boundary events",
                            describe(&c),
                            describe(&child)
                        )),
                    }
                }
                let Some(def) = definition else {
                    errors.push(format!(
                        "Unsupported {}: the dev engine only supports error boundary events",
                        describe(&child)
                    ));
                    continue;
                };
                let error_code = match def.attribute("errorRef") {
                    None | Some("") => None,
                    Some(r) => match error_codes.get(r) {
                        Some(code) => code.clone(),
                        None => {
                            errors.push(format!(
                                "{} references the undefined error '{r}'",
                                describe(&child)
                            ));
                            continue;
                        }
                    },
                };
                let boundary = ErrorBoundary {
                    id: id.clone(),
                    error_code,
                    code_variable: camunda_attr(&def, "errorCodeVariable").map(str::to_string),
                    message_variable: camunda_attr(&def, "errorMessageVariable")
                        .map(str::to_string),
                };
                nodes.insert(id.clone(), NodeKind::Boundary(boundary.clone()));
                boundaries.push((attached, id, boundary));
            }
            "sequenceFlow" => {
                for c in child.children().filter(|c| is_bpmn(c)) {
                    match c.tag_name().name() {
                        "documentation" | "extensionElements" => {}
                        _ => errors.push(format!(
                            "Unsupported {} inside {}: the dev engine does not support conditions on sequence flows",
                            describe(&c),
                            describe(&child)
                        )),
                    }
                }
                let source = child.attribute("sourceRef").unwrap_or("").to_string();
                let target = child.attribute("targetRef").unwrap_or("").to_string();
                flows.push((id, source, target));
            }
            _ => errors.push(format!(
                "Unsupported {} in process '{key}': the dev engine supports start events, external service tasks, error boundary events, end events and sequence flows",
                describe(&child)
            )),
        }
    }
    let start = match starts.as_slice() {
        [one] => one.clone(),
        [] => {
            errors.push(format!("Process '{key}' has no start event"));
            String::new()
        }
        _ => {
            errors.push(format!(
                "Process '{key}' has {} start events; the dev engine supports exactly one",
                starts.len()
            ));
            String::new()
        }
    };
    let mut next = HashMap::new();
    for (id, source, target) in flows {
        if !nodes.contains_key(&source) {
            errors.push(format!(
                "sequenceFlow with id '{id}' has an unknown sourceRef '{source}'"
            ));
        } else if !nodes.contains_key(&target) {
            errors.push(format!(
                "sequenceFlow with id '{id}' has an unknown targetRef '{target}'"
            ));
        } else if next.insert(source.clone(), target).is_some() {
            errors.push(format!(
                "Node '{source}' has more than one outgoing sequence flow (sequenceFlow with id '{id}'): the dev engine does not support parallel or conditional paths"
            ));
        }
    }
    let mut by_task: HashMap<String, Vec<ErrorBoundary>> = HashMap::new();
    for (attached, id, boundary) in boundaries {
        if matches!(nodes.get(&attached), Some(NodeKind::ServiceTask(_))) {
            by_task.entry(attached).or_default().push(boundary);
        } else {
            errors.push(format!(
                "boundaryEvent with id '{id}' is attached to '{attached}', which is not an external service task"
            ));
        }
    }
    if errors.is_empty() {
        Some(ProcessModel {
            key,
            name: process.attribute("name").map(str::to_string),
            version_tag: camunda_attr(process, "versionTag").map(str::to_string),
            history_ttl_days: camunda_attr(process, "historyTimeToLive").and_then(ttl_days),
            category,
            start,
            nodes,
            next,
            boundaries: by_task,
        })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">"#;

    #[test]
    fn refuses_user_tasks_naming_them() {
        let xml = format!(
            r#"{HEAD}<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:userTask id="Ask"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="Ask"/></bpmn:process></bpmn:definitions>"#
        );
        let errors = parse_bpmn(&xml).err().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("userTask") && e.contains("'Ask'")),
            "{errors:?}"
        );
    }

    #[test]
    fn specific_boundaries_win_over_catch_all() {
        let xml = format!(
            r#"{HEAD}<bpmn:error id="E" errorCode="oops"/><bpmn:process id="p"><bpmn:startEvent id="s"/>
<bpmn:serviceTask id="t" camunda:type="external" camunda:topic="x"/>
<bpmn:boundaryEvent id="all" attachedToRef="t"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="b" attachedToRef="t"><bpmn:errorEventDefinition errorRef="E"/></bpmn:boundaryEvent>
<bpmn:endEvent id="e"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/></bpmn:process></bpmn:definitions>"#
        );
        let models = parse_bpmn(&xml).unwrap_or_default();
        let model = &models[0];
        assert_eq!(
            model.catching_boundary("t", "oops").map(|b| b.id.as_str()),
            Some("b")
        );
        assert_eq!(
            model.catching_boundary("t", "other").map(|b| b.id.as_str()),
            Some("all")
        );
    }
}
