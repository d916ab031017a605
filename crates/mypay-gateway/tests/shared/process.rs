//! What the tests and the benchmarks both do with the processes they start: learn where a
//! gateway serves from its startup banner, run a command that must succeed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};

/// Run `command` to its end and answer what it printed; a failure panics, naming `what`
/// and what the command said on stderr.
pub fn succeed(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what}: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The base URL the gateway `child` (its stdout piped) prints in its banner
/// (`POST {base}/api/init`). What it prints afterwards is read on a thread of its own, as
/// a supervisor would, so the gateway never blocks on a full pipe.
pub fn base_url(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("the gateway's stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("a banner (the gateway came up)")
            .expect("utf-8");
        let served = line.split("POST ").nth(1);
        if let Some(base) = served.and_then(|rest| rest.split("/api/init").next()) {
            break base.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    base
}
