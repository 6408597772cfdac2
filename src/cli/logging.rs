//! Log output: human-readable text (colours only on a terminal) or, with
//! `LOG_FORMAT=json`, one JSON object a line for log shippers, carrying the
//! request's span (its `id` is the X-Request-Id).

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// `LOG_FORMAT`: `text` (the default) or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the process-wide logger, writing to stdout.
pub fn init(filter: &str, format: LogFormat, to_stderr: bool) {
    let subscriber = if to_stderr {
        let colours = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        subscriber(filter, format, colours, std::io::stderr)
    } else {
        let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        subscriber(filter, format, colours, std::io::stdout)
    };
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        eprintln!("a logger was already installed");
    }
}

/// The logger for `format`; colour codes only when `colours` (a terminal).
pub fn subscriber<W>(
    filter: &str,
    format: LogFormat,
    colours: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(colours).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what the logger writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log_in_a_request(format: LogFormat, colours: bool) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = subscriber("info", format, colours, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", id = "0123456789abcdef", method = "GET");
            let _entered = span.enter();
            tracing::info!(status = 200, "finished processing request");
            tracing::warn!("second line");
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn json_logs_are_one_object_a_line_with_the_request_id() {
        let text = log_in_a_request(LogFormat::Json, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in lines {
            let value: serde_json::Value = serde_json::from_str(line).expect(line);
            assert_eq!(value["span"]["id"], "0123456789abcdef", "{line}");
            assert!(value["level"].is_string() && value["timestamp"].is_string());
        }
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["fields"]["status"], 200);
        assert_eq!(first["fields"]["message"], "finished processing request");
    }

    #[test]
    fn text_logs_carry_no_colour_codes_off_a_terminal() {
        let plain = log_in_a_request(LogFormat::Text, false);
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert!(plain.contains("0123456789abcdef"), "{plain}");
        let coloured = log_in_a_request(LogFormat::Text, true);
        assert!(coloured.contains('\u{1b}'), "a terminal still gets colours");
    }
}
