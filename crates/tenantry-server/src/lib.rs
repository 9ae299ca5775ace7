//! The `tenantry` binary's library: configuration, start-up, and the front ends (HTTP, CLI) as thin
//! adapters over `tenantry::platform::Platform`; the benchmarks behind `tenantry bench`.
#![forbid(unsafe_code)]

pub mod app;
pub mod bench;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod startup;
pub mod telemetry;
