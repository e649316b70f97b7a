//! Captures the log lines (`tracing` events, every level, with their fields and spans) written on
//! the current thread while a delivery runs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing::dispatcher::{self, DefaultGuard, Dispatch};

/// What was logged since [`Capture::start`]; logging stops being captured when it is dropped.
pub struct Capture {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

#[derive(Clone)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Captures everything logged on this thread from now on, and checks that it does by
    /// logging a first line of its own.
    pub fn start() -> Capture {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let writer = Lines(lines.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let guard = dispatcher::set_default(&Dispatch::new(subscriber));
        tracing::trace!(capture = "conformance", "Capturing log lines.");
        let capture = Capture {
            lines,
            _guard: guard,
        };
        assert!(
            capture.text().contains("Capturing log lines."),
            "the log capture does not work"
        );
        capture
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}
