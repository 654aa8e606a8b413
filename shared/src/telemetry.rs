//! Metrics as CloudWatch Embedded Metric Format (EMF) lines.
//!
//! In Lambda, EMF lines go to stdout, where the log capture hands them to CloudWatch Logs as they are:
//! metrics without a PutMetricData call. A process that owns its stdout — the `greenpipe` CLI, which
//! runs the same handlers in process and whose `--json` output must stay one JSON document — turns
//! them off ([`set_emf_sink`]); the same figures are in the run and cleanup reports it prints.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// Where [`emit_emf`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmfSink {
    /// The Lambda default.
    Stdout = 0,
    Stderr = 1,
    Off = 2,
}

static SINK: AtomicU8 = AtomicU8::new(EmfSink::Stdout as u8);

/// Where EMF lines go for the rest of the process.
pub fn set_emf_sink(sink: EmfSink) {
    SINK.store(sink as u8, Ordering::Relaxed);
}

/// The current sink.
pub fn emf_sink() -> EmfSink {
    match SINK.load(Ordering::Relaxed) {
        0 => EmfSink::Stdout,
        1 => EmfSink::Stderr,
        _ => EmfSink::Off,
    }
}

/// Write EMF lines, one per line, to the sink. A failed write loses metrics, never the stage's work, so
/// it is ignored.
pub fn emit_emf<S: AsRef<str>>(lines: &[S]) {
    fn write_all<W: Write, S: AsRef<str>>(mut out: W, lines: &[S]) {
        for line in lines {
            let _ = writeln!(out, "{}", line.as_ref());
        }
        let _ = out.flush();
    }
    match emf_sink() {
        EmfSink::Stdout => write_all(std::io::stdout().lock(), lines),
        EmfSink::Stderr => write_all(std::io::stderr().lock(), lines),
        EmfSink::Off => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_is_stdout_until_set() {
        assert_eq!(emf_sink(), EmfSink::Stdout);
        set_emf_sink(EmfSink::Off);
        assert_eq!(emf_sink(), EmfSink::Off);
        emit_emf(&["{}"]);
        set_emf_sink(EmfSink::Stdout);
    }
}
