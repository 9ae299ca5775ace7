//! The `tenantry` binary's library: configuration, start-up, HTTP surfaces and CLI.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod startup;
