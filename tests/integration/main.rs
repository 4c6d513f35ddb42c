//! chaoscal's integration tests: one binary, a module per behaviour.

mod bad_input;
mod calibrate;
mod catalog;
mod chaos;
mod common;
mod determinism;
mod faults;
mod gates;
mod graph;
mod guardrails;
mod import;
mod mechanisms;
mod queueing;
mod report;
mod resilience;
mod rollouts;
mod telemetry;
mod uncertain;
