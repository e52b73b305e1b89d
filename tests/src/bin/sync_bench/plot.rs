//! The report's charts, drawn as SVG with plotters: latency distributions (one cumulative
//! curve per series), the W5 scaling curves, and each system's W3/W4 time over its
//! physical floor on every link.

use std::path::Path;
use std::time::Duration;

use plotters::prelude::*;

use super::BoxError;
use super::scale::Point;
use super::shaped::{Pair, System};
use fieldnote_tests::link::Profile;

const SIZE: (u32, u32) = (900, 540);

fn colour(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(0, 0, 0),
        RGBColor(240, 228, 66),
    ];
    PALETTE[i % PALETTE.len()]
}

/// A white drawing area for an SVG file at `path`.
fn canvas(path: &Path) -> Result<DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, BoxError> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    Ok(root)
}

/// Draws the chart's legend at `at`.
fn legend<'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    at: SeriesLabelPosition,
) -> Result<(), BoxError> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

fn err(e: impl std::fmt::Display) -> BoxError {
    format!("drawing a chart: {e}").into()
}

/// Cumulative distributions of latencies: for each series, the share of samples at or
/// below each time (milliseconds, logarithmic axis).
pub fn cdf(path: &Path, title: &str, series: &[(String, Vec<Duration>)]) -> Result<(), BoxError> {
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let all = series.iter().flat_map(|(_, v)| v.iter().map(ms));
    let (lo, hi) = all.fold((f64::MAX, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let (lo, hi) = if hi <= 0.0 {
        (0.1, 1.0)
    } else {
        ((lo * 0.8).max(0.01), hi * 1.25)
    };
    let root = canvas(path)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("milliseconds (log scale)")
        .y_desc("share of samples at or below")
        .draw()
        .map_err(err)?;
    for (i, (name, samples)) in series.iter().enumerate() {
        let n = samples.len().max(1) as f64;
        let points: Vec<(f64, f64)> = samples
            .iter()
            .enumerate()
            .map(|(k, d)| (ms(d), (k + 1) as f64 / n))
            .collect();
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Changes merged per second against devices, one curve per backend.
pub fn scaling(path: &Path, points: &[Point]) -> Result<(), BoxError> {
    let mut backends: Vec<&str> = Vec::new();
    for p in points {
        if !backends.contains(&p.backend.as_str()) {
            backends.push(&p.backend);
        }
    }
    let max_devices = points.iter().map(|p| p.devices).max().unwrap_or(1) as f64;
    let min_devices = points.iter().map(|p| p.devices).min().unwrap_or(1) as f64;
    let max_rate = points.iter().map(|p| p.rate).fold(1.0, f64::max) * 1.2;
    let root = canvas(path)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "W5: changes merged per second as devices reconnect at once",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(
            ((min_devices * 0.8)..(max_devices * 1.25)).log_scale(),
            0.0..max_rate,
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("devices reconnecting at once (log scale)")
        .y_desc("changes merged per second")
        .draw()
        .map_err(err)?;
    for (i, b) in backends.iter().enumerate() {
        let curve: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.backend == *b)
            .map(|p| (p.devices as f64, p.rate))
            .collect();
        let c = colour(i);
        chart
            .draw_series(LineSeries::new(curve.clone(), c.stroke_width(2)))
            .map_err(err)?
            .label(b.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart
            .draw_series(curve.into_iter().map(|p| Circle::new(p, 4, c.filled())))
            .map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Each system's W3 and W4 time as a multiple of the link's physical floor, per shaped
/// link (one curve per system and workload across the links).
pub fn w10(path: &Path, results: &[(Profile, System, Pair)]) -> Result<(), BoxError> {
    let links: Vec<&'static str> = {
        let mut v: Vec<&'static str> = Vec::new();
        for (p, ..) in results {
            if *p != Profile::LOOPBACK && !v.contains(&p.name) {
                v.push(p.name);
            }
        }
        v
    };
    let over = |p: &Profile, run: &super::shaped::Run| {
        run.time.as_secs_f64() / p.floor(&run.totals).as_secs_f64().max(1e-6)
    };
    let max = results
        .iter()
        .filter(|(p, ..)| *p != Profile::LOOPBACK)
        .flat_map(|(p, _, pair)| [over(p, &pair.w3), over(p, &pair.w4)])
        .fold(1.0, f64::max)
        * 1.2;
    let root = canvas(path)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "W10: time as a multiple of the link's physical floor",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..(links.len() as f64 - 0.5), (0.8..max).log_scale())
        .map_err(err)?;
    let names = links.clone();
    chart
        .configure_mesh()
        .x_labels(links.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 {
                names.get(i as usize).copied().unwrap_or("").to_string()
            } else {
                String::new()
            }
        })
        .y_desc("time / (bytes at the link's rate + round trips)")
        .draw()
        .map_err(err)?;
    for (i, system) in System::ALL.iter().enumerate() {
        for (w, dashed) in [("W3", false), ("W4", true)] {
            let curve: Vec<(f64, f64)> = links
                .iter()
                .enumerate()
                .filter_map(|(x, name)| {
                    let (p, _, pair) = results
                        .iter()
                        .find(|(p, s, _)| p.name == *name && s == system)?;
                    let run = if w == "W3" { &pair.w3 } else { &pair.w4 };
                    Some((x as f64, over(p, run)))
                })
                .collect();
            let c = colour(i);
            let style = if dashed {
                c.mix(0.6).stroke_width(1)
            } else {
                c.stroke_width(3)
            };
            chart
                .draw_series(LineSeries::new(curve.clone(), style))
                .map_err(err)?
                .label(format!("{} {w}", system.label()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            chart
                .draw_series(curve.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                .map_err(err)?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(err)?;
    Ok(())
}
