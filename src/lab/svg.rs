//! `latency.svg`: every operation as a dot at (completion time, latency) on
//! a log scale, fault steps as vertical lines, elections as ticks on top,
//! and a band below the plot that is green while writes were acknowledged
//! and red while they were not. Written by hand: SVG is text, and a
//! plotting crate would add far more than these few shapes need.

use super::history::{HistoryOp, OpType};
use super::report::Report;
use super::timeline::Timeline;
use crate::check::linearizability::Outcome;
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 430.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const PLOT_HEIGHT: f64 = 300.0;
const BAND_TOP: f64 = TOP + PLOT_HEIGHT + 10.0;
const BAND_HEIGHT: f64 = 12.0;
/// Dots drawn at most; beyond this, every n-th operation is drawn.
const MAX_DOTS: usize = 12_000;

/// Renders the figure.
pub fn render(report: &Report, history: &[HistoryOp], _timeline: &Timeline) -> String {
    let ops: Vec<&HistoryOp> = history
        .iter()
        .filter(|op| op.source != super::checks::VERIFY_SOURCE)
        .collect();
    let end_ms = ops
        .iter()
        .map(|op| op.complete_us as f64 / 1000.0)
        .chain(report.faults.iter().map(|fault| fault.at_ms))
        .fold(1000.0, f64::max);
    let max_latency = ops.iter().map(|op| op.latency_ms()).fold(10.0, f64::max);
    let (low, high) = (0.1f64.log10(), (max_latency * 1.5).log10().ceil());
    let plot_width = WIDTH - LEFT - RIGHT;
    let x = |ms: f64| LEFT + ms / end_ms * plot_width;
    let y = |ms: f64| TOP + PLOT_HEIGHT - (ms.max(0.1).log10() - low) / (high - low) * PLOT_HEIGHT;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let verdict = if report.passed { "passed" } else { "FAILED" };
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="18" font-size="14" font-weight="bold">lab {} — latency of every operation ({verdict}, seed {})</text>"#,
        escape(&report.lab),
        report.seed
    );
    // Axes and grid: a line per power of ten.
    let mut decade = low.floor() as i32;
    while decade as f64 <= high {
        let ms = 10f64.powi(decade);
        if ms >= 0.1 {
            let at = y(ms);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{at:.1}" x2="{:.1}" y2="{at:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                at + 4.0,
                if ms < 1.0 {
                    format!("{ms} ms")
                } else {
                    format!("{ms:.0} ms")
                }
            );
        }
        decade += 1;
    }
    let step_s = nice_step(end_ms / 1000.0);
    let mut second = 0.0;
    while second * 1000.0 <= end_ms {
        let at = x(second * 1000.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{:.1}" stroke="#f0f0f0"/><text x="{at:.1}" y="{:.1}" text-anchor="middle">{second} s</text>"##,
            TOP + PLOT_HEIGHT,
            BAND_TOP + BAND_HEIGHT + 16.0
        );
        second += step_s;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_width}" height="{PLOT_HEIGHT}" fill="none" stroke="#999"/>"##
    );
    // Availability band: green while writes ran, red over each outage.
    for span in &report.availability.writing {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{BAND_TOP}" width="{:.1}" height="{BAND_HEIGHT}" fill="#4caf50"/>"##,
            x(span.from_ms),
            (x(span.to_ms) - x(span.from_ms)).max(0.5)
        );
    }
    for outage in &report.availability.outages {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{BAND_TOP}" width="{:.1}" height="{BAND_HEIGHT}" fill="#e53935"><title>no write acknowledged for {:.0} ms</title></rect>"##,
            x(outage.from_ms),
            (x(outage.to_ms) - x(outage.from_ms)).max(1.0),
            outage.to_ms - outage.from_ms
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">writes ok</text>"#,
        LEFT - 6.0,
        BAND_TOP + 10.0
    );
    // Dots.
    let every = ops.len().div_ceil(MAX_DOTS).max(1);
    for op in ops.iter().step_by(every) {
        let color = match (op.outcome, op.op) {
            (Outcome::Failed, _) => "#e53935",
            (Outcome::Unknown, _) => "#fb8c00",
            (Outcome::Ok, OpType::Write | OpType::Delete | OpType::Clear) => "#1e88e5",
            (Outcome::Ok, OpType::ReadLinearizable) => "#43a047",
            (Outcome::Ok, _) => "#8e24aa",
        };
        let _ = writeln!(
            svg,
            r#"<circle cx="{:.1}" cy="{:.1}" r="1.6" fill="{color}" fill-opacity="0.6"/>"#,
            x(op.complete_us as f64 / 1000.0),
            y(op.latency_ms())
        );
    }
    // Faults.
    for (index, fault) in report.faults.iter().enumerate() {
        let at = x(fault.at_ms);
        let label_y = TOP + 12.0 + (index % 4) as f64 * 12.0;
        // Labels near the right edge run leftwards, so they stay readable.
        let (label_x, anchor) = if at > LEFT + plot_width * 0.75 {
            (at - 3.0, "end")
        } else {
            (at + 3.0, "start")
        };
        let _ = writeln!(
            svg,
            r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{:.1}" stroke="#c62828" stroke-dasharray="4 3"/><text x="{label_x:.1}" y="{label_y:.1}" text-anchor="{anchor}" fill="#c62828">{}</text>"##,
            BAND_TOP + BAND_HEIGHT,
            escape(&fault.label)
        );
    }
    // Elections.
    for election in &report.elections {
        let at = x(election.at_ms);
        let _ = writeln!(
            svg,
            r##"<path d="M{at:.1},{TOP} l-4,-7 h8 z" fill="#6d4c41"><title>term {} leader {}</title></path><text x="{at:.1}" y="{:.1}" font-size="9" text-anchor="middle" fill="#6d4c41">T{}</text>"##,
            election.term,
            election.leader,
            TOP - 9.0,
            election.term
        );
    }
    // Legend.
    let legend = [
        ("#1e88e5", "write ok"),
        ("#43a047", "linearizable read ok"),
        ("#8e24aa", "local read ok"),
        ("#e53935", "failed"),
        ("#fb8c00", "unknown"),
    ];
    // Below the time axis, so that no title length can collide with it.
    let legend_y = BAND_TOP + BAND_HEIGHT + 40.0;
    let mut legend_x = LEFT + 4.0;
    for (color, label) in legend {
        let _ = writeln!(
            svg,
            r#"<circle cx="{legend_x:.1}" cy="{:.1}" r="4" fill="{color}"/><text x="{:.1}" y="{legend_y:.1}">{label}</text>"#,
            legend_y - 4.0,
            legend_x + 7.0
        );
        legend_x += 16.0 + label.len() as f64 * 6.0;
    }
    let _ = writeln!(svg, "</svg>");
    svg
}

/// A tick spacing in seconds giving about ten ticks.
fn nice_step(total_s: f64) -> f64 {
    [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0]
        .into_iter()
        .find(|step| total_s / step <= 12.0)
        .unwrap_or(120.0)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
