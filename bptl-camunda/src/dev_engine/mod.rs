//! An in-process Camunda-compatible engine (work in progress).
