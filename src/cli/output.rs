//! Output helpers: stdout for data (broken pipe is not an error), stderr for people.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};

/// Buffered stdout; a closed pipe ends the command quietly.
pub struct Output {
    inner: std::io::BufWriter<std::io::Stdout>,
}

impl Output {
    pub fn new() -> Output {
        Output { inner: std::io::BufWriter::new(std::io::stdout()) }
    }

    pub fn line(&mut self, text: impl std::fmt::Display) -> Result<()> {
        writeln!(self.inner, "{text}").map_err(stdout_error)
    }

    pub fn json(&mut self, value: &impl serde::Serialize) -> Result<()> {
        serde_json::to_writer(&mut self.inner, value).map_err(|error| match error.io_error_kind() {
            // A reader that went away (`| head`) ends the output quietly, as for text.
            Some(_) => stdout_error(error.into()),
            None => Error::Input(error.to_string()),
        })?;
        self.line("")
    }

    pub fn flush(&mut self) -> Result<()> {
        self.inner.flush().map_err(stdout_error)
    }
}

impl Default for Output {
    fn default() -> Self {
        Self::new()
    }
}

fn stdout_error(error: std::io::Error) -> Error {
    if error.kind() == std::io::ErrorKind::BrokenPipe { Error::BrokenPipe } else { Error::io("stdout", &error) }
}

/// A spinner on stderr, hidden when stderr is not a terminal or when quiet.
pub fn spinner(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| rows.iter().filter_map(|row| row.get(column)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[column] - cell.chars().count() + 2));
                }
            }
            line
        })
        .collect()
}

/// "1 file", "2 files", "1,000 bundles".
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{} {noun}s", thousands(count)) }
}

/// Dollars, with more digits for small amounts.
pub fn money(usd: f64) -> String {
    if usd >= 0.01 || usd == 0.0 { format!("${usd:.2}") } else { format!("${usd:.4}") }
}

/// 1234567 → "1,234,567".
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Path text safe for one table line: control characters (newlines…) escaped.
pub fn printable(text: &str) -> String {
    text.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}
