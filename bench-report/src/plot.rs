//! SVG plots of the figures (plotters' SVG backend: text stays text, no font files needed).

use std::path::Path;

use plotters::prelude::*;

use crate::figure::{Bars, Curves, Role, role_of};

const OURS: RGBColor = RGBColor(0xd6, 0x4f, 0x1d);
const PEER: RGBColor = RGBColor(0x4c, 0x72, 0xb0);
const FLOOR: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);
const LINES: [RGBColor; 6] = [
    OURS,
    RGBColor(0xee, 0x9a, 0x6c),
    PEER,
    RGBColor(0x55, 0xa8, 0x68),
    RGBColor(0x81, 0x72, 0xb2),
    RGBColor(0x93, 0x78, 0x60),
];

type Failed = Box<dyn std::error::Error>;

/// Horizontal bars, one per row, labelled with the name and value; ours in orange, peers in
/// blue, references in grey.
pub fn bars(figure: &Bars, dir: &Path) -> Result<(), Failed> {
    let path = dir.join(format!("{}.svg", figure.id));
    let height = 90 + 46 * figure.rows.len() as u32;
    let root = SVGBackend::new(&path, (760, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = figure
        .rows
        .iter()
        .map(|r| r.1)
        .fold(0.0, f64::max)
        .max(1e-9);
    let n = figure.rows.len() as f64;
    let better = if figure.lower_is_better {
        "lower is better"
    } else {
        "higher is better"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} ({}, {better})", figure.title, figure.unit),
            ("sans-serif", 17),
        )
        .margin(12)
        .x_label_area_size(28)
        .build_cartesian_2d(0.0..max * 1.05, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_labels(6)
        .draw()?;
    for (i, (name, value)) in figure.rows.iter().enumerate() {
        // Row 0 at the top.
        let y = n - 1.0 - i as f64;
        let color = match role_of(name) {
            Role::Ours => OURS,
            Role::Peer => PEER,
            Role::Floor => FLOOR,
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y + 0.08), (*value, y + 0.5)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{name}: {}", crate::results::number(*value)),
            (max * 0.005, y + 0.93),
            ("sans-serif", 13).into_font().color(&BLACK),
        )))?;
    }
    root.present()?;
    Ok(())
}

/// Lines over a logarithmic x axis, with a legend.
pub fn curves(figure: &Curves, dir: &Path) -> Result<(), Failed> {
    let path = dir.join(format!("{}.svg", figure.id));
    let root = SVGBackend::new(&path, (760, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let points = figure.series.iter().flat_map(|(_, p)| p.iter());
    let (x_min, x_max) = points.clone().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    let y_max = points.map(|p| p.1).fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(&figure.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d((x_min..x_max).log_scale(), 0.0..(y_max * 1.1).min(100.0))?;
    chart
        .configure_mesh()
        .x_desc(figure.x_label)
        .y_desc(figure.y_label)
        .x_label_formatter(&|x| format!("{}k", (*x / 1000.0).round()))
        .draw()?;
    for (i, (name, series)) in figure.series.iter().enumerate() {
        let color = LINES[i % LINES.len()];
        chart
            .draw_series(LineSeries::new(
                series.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(series.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
