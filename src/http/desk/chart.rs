//! The compliance chart, drawn on the server as inline SVG (no script, no image file): one
//! horizontal bar a row, the label and its figure above it, so it reads at 390 px as at
//! 1280. Only geometry here; `config/templates/desk/sla.html` draws it, and its text
//! alternative says every figure the bars show.

use serde::Serialize;

/// The drawing's own width; the page scales it to the column.
const WIDTH: f64 = 360.0;
const ROW: f64 = 46.0;
const BAR: f64 = 16.0;

#[derive(Debug, Serialize)]
pub struct Bar {
    pub label: String,
    pub figure: String,
    pub text_y: f64,
    pub bar_y: f64,
    /// None when nothing was decided yet: no bar, only the words.
    pub width: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Chart {
    pub title: String,
    /// Every row's figure in words: the chart's text alternative.
    pub alt: String,
    pub width: f64,
    pub height: f64,
    pub bar_height: f64,
    pub bars: Vec<Bar>,
}

/// One row of the chart: its label, the percentage met (None: nothing decided), and the
/// counts that make it.
pub struct Point {
    pub label: String,
    pub pct: Option<f64>,
    pub met: usize,
    pub decided: usize,
}

fn figure(p: &Point) -> String {
    match p.pct {
        Some(pct) => format!("{pct}%（{}件中{}件が期限内）", p.decided, p.met),
        None => "まだ判定できる返信がありません".to_string(),
    }
}

pub fn bars(title: &str, points: &[Point]) -> Chart {
    let bars: Vec<Bar> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let top = i as f64 * ROW;
            Bar {
                label: p.label.clone(),
                figure: figure(p),
                text_y: top + 16.0,
                bar_y: top + 22.0,
                width: p
                    .pct
                    .map(|pct| (pct.clamp(0.0, 100.0) * WIDTH / 100.0).max(1.0)),
            }
        })
        .collect();
    let words: Vec<String> = bars
        .iter()
        .map(|b| format!("{}：{}", b.label, b.figure))
        .collect();
    let alt = if words.is_empty() {
        format!("{title}：この期間の対象はありません。")
    } else {
        format!("{title}。{}。", words.join("、"))
    };
    Chart {
        title: title.to_string(),
        alt,
        width: WIDTH,
        height: (bars.len().max(1) as f64) * ROW,
        bar_height: BAR,
        bars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_alternative_says_every_figure() {
        let chart = bars(
            "月ごとの期限内返信率",
            &[
                Point {
                    label: "2026年11月".into(),
                    pct: Some(50.0),
                    met: 1,
                    decided: 2,
                },
                Point {
                    label: "2026年12月".into(),
                    pct: None,
                    met: 0,
                    decided: 0,
                },
            ],
        );
        assert_eq!(
            chart.alt,
            "月ごとの期限内返信率。2026年11月：50%（2件中1件が期限内）、2026年12月：まだ判定できる返信がありません。"
        );
        assert_eq!(chart.bars[0].width, Some(180.0));
        assert_eq!(chart.bars[1].width, None);
        assert_eq!(chart.height, 92.0);
    }
}
