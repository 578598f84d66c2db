//! The tray icon, drawn at run time: a ring whose filled arc is the aggregate percent, in the
//! colour of the tray state, with a check mark when everything is done and an exclamation
//! mark when something needs attention.
//!
//! A pure function from (state, percent, size) to RGBA pixels, anti-aliased by 4×4
//! supersampling and laid out on whole pixels so it stays crisp at 16, 22, 24 and 32 px. The
//! shell redraws only when the state or the rounded percent changes.

use crate::view::TrayState;

/// An RGBA image, row by row, 4 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IconImage {
    pub size: u32,
    pub rgba: Vec<u8>,
}

impl IconImage {
    /// The pixel at (x, y) as [r, g, b, a].
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.size + x) * 4) as usize;
        [
            self.rgba[i],
            self.rgba[i + 1],
            self.rgba[i + 2],
            self.rgba[i + 3],
        ]
    }
}

type Rgb = [f64; 3];

const BLUE: Rgb = [47.0, 125.0, 225.0];
const AMBER: Rgb = [224.0, 131.0, 0.0];
const GREEN: Rgb = [46.0, 157.0, 91.0];
const GREY: Rgb = [138.0, 143.0, 152.0];
const WHITE: Rgb = [255.0, 255.0, 255.0];

/// The colour of a state: the same as the window's chips.
pub fn state_colour(state: TrayState) -> [u8; 3] {
    let c = colour(state);
    [c[0] as u8, c[1] as u8, c[2] as u8]
}

fn colour(state: TrayState) -> Rgb {
    match state {
        TrayState::Idle => GREY,
        TrayState::Running => BLUE,
        TrayState::Attention => AMBER,
        TrayState::AllDone => GREEN,
    }
}

/// Draws the icon for `state` at `percent` (0–100; `None` draws an empty ring), `size` px square.
pub fn render(state: TrayState, percent: Option<u8>, size: u32) -> IconImage {
    let size = size.max(8);
    let fraction = f64::from(percent.unwrap_or(0).min(100)) / 100.0;
    // Geometry in pixels; the ring is at least 2 px wide so it survives 16 px.
    let s = f64::from(size);
    let outer = s / 2.0 - 0.5;
    let width = (s * 0.19).max(2.0);
    let inner = outer - width;
    let centre = s / 2.0;
    let fill = colour(state);
    // The unfilled part: the state's colour washed out, so the arc reads at a glance.
    let track = fill.map(|c| c * 0.3 + 205.0 * 0.7);

    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    const SAMPLES: u32 = 4;
    for y in 0..size {
        for x in 0..size {
            let mut acc = [0.0f64; 4];
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let px = f64::from(x) + (f64::from(sx) + 0.5) / f64::from(SAMPLES) - centre;
                    let py = f64::from(y) + (f64::from(sy) + 0.5) / f64::from(SAMPLES) - centre;
                    if let Some(c) = sample(state, px, py, outer, inner, fraction, fill, track) {
                        acc[0] += c[0];
                        acc[1] += c[1];
                        acc[2] += c[2];
                        acc[3] += 1.0;
                    }
                }
            }
            let n = f64::from(SAMPLES * SAMPLES);
            let coverage = acc[3];
            if coverage == 0.0 {
                rgba.extend_from_slice(&[0, 0, 0, 0]);
            } else {
                rgba.extend_from_slice(&[
                    (acc[0] / coverage).round() as u8,
                    (acc[1] / coverage).round() as u8,
                    (acc[2] / coverage).round() as u8,
                    (coverage / n * 255.0).round() as u8,
                ]);
            }
        }
    }
    IconImage { size, rgba }
}

/// The colour at a sub-pixel (relative to the centre), or `None` where the icon is transparent.
#[allow(clippy::too_many_arguments)]
fn sample(
    state: TrayState,
    px: f64,
    py: f64,
    outer: f64,
    inner: f64,
    fraction: f64,
    fill: Rgb,
    track: Rgb,
) -> Option<Rgb> {
    let r = (px * px + py * py).sqrt();
    if r > outer {
        return None;
    }
    let centre_disc = inner - (outer - inner) * 0.35;
    match state {
        TrayState::AllDone if r <= centre_disc => {
            return Some(if on_check(px / centre_disc, py / centre_disc) {
                WHITE
            } else {
                fill
            });
        }
        TrayState::Attention if r <= centre_disc => {
            return Some(if on_exclamation(px / centre_disc, py / centre_disc) {
                WHITE
            } else {
                fill
            });
        }
        _ => {}
    }
    if r < inner {
        return None;
    }
    // Clockwise from twelve o'clock, 0..1.
    let angle = (px.atan2(-py) / std::f64::consts::TAU).rem_euclid(1.0);
    let filled = state == TrayState::AllDone || angle < fraction;
    Some(if filled { fill } else { track })
}

/// A check mark in the unit disc.
fn on_check(x: f64, y: f64) -> bool {
    let near = |(ax, ay): (f64, f64), (bx, by): (f64, f64)| {
        let (dx, dy) = (bx - ax, by - ay);
        let t = (((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        let (cx, cy) = (ax + t * dx - x, ay + t * dy - y);
        (cx * cx + cy * cy).sqrt() < 0.16
    };
    near((-0.5, 0.02), (-0.15, 0.38)) || near((-0.15, 0.38), (0.52, -0.35))
}

/// An exclamation mark in the unit disc.
fn on_exclamation(x: f64, y: f64) -> bool {
    x.abs() < 0.16 && ((-0.62..0.18).contains(&y) || (0.36..0.66).contains(&y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is(c: [u8; 4], rgb: Rgb) -> bool {
        c[3] == 255 && (0..3).all(|i| (f64::from(c[i]) - rgb[i]).abs() <= 2.0)
    }

    #[test]
    fn the_arc_follows_the_percent_clockwise_from_twelve() {
        for size in [16u32, 22, 24, 32] {
            let ring = size / 2 - 1 - (size as f64 * 0.19 / 2.0).max(1.0) as u32; // mid-ring radius
            let top = (size / 2, size / 2 - ring - 1);
            let right = (size / 2 + ring, size / 2);
            let bottom = (size / 2, size / 2 + ring);
            let left = (size / 2 - ring - 1, size / 2);
            let at = |img: &IconImage, (x, y): (u32, u32)| img.pixel(x, y);

            let quarter = render(TrayState::Running, Some(30), size);
            assert!(
                is(at(&quarter, right), BLUE),
                "{size}px: 30 % reaches three o'clock"
            );
            assert!(
                !is(at(&quarter, bottom), BLUE) && at(&quarter, bottom)[3] == 255,
                "{size}px: track below"
            );
            assert!(!is(at(&quarter, left), BLUE), "{size}px");
            assert_eq!(
                at(&quarter, (size / 2, size / 2))[3],
                0,
                "{size}px: the centre is clear"
            );

            let none = render(TrayState::Running, Some(0), size);
            assert!(!is(at(&none, top), BLUE), "{size}px: 0 % fills nothing");
            let full = render(TrayState::Running, Some(100), size);
            for p in [top, right, bottom, left] {
                assert!(
                    is(at(&full, p), BLUE),
                    "{size}px: 100 % fills the ring at {p:?}"
                );
            }
            assert_eq!(at(&full, (0, 0))[3], 0, "{size}px: corners are transparent");
            assert_eq!(full.rgba.len(), (size * size * 4) as usize);
        }
    }

    #[test]
    fn states_have_their_colours_and_marks() {
        let size = 32;
        let c = (size / 2, size / 2);
        let done = render(TrayState::AllDone, Some(100), size);
        assert!(is(done.pixel(2, 16), GREEN), "green ring");
        // The check's stem passes just left of and below the centre.
        let check = (14..19)
            .flat_map(|x| (14..22).map(move |y| (x, y)))
            .any(|(x, y)| is(done.pixel(x, y), WHITE));
        assert!(check, "a white check mark in the middle");
        assert!(is(done.pixel(c.0 + 6, c.1 - 2), GREEN) || is(done.pixel(c.0 + 6, c.1 - 2), WHITE));

        let attention = render(TrayState::Attention, Some(40), size);
        assert!(
            is(attention.pixel(c.0, c.1 - 3), WHITE),
            "the exclamation's bar"
        );
        assert!(is(attention.pixel(c.0 + 6, c.1), AMBER), "amber around it");

        let idle = render(TrayState::Idle, None, size);
        assert_eq!(idle.pixel(c.0, c.1)[3], 0);
        assert!(
            !is(idle.pixel(16, 2), BLUE) && idle.pixel(16, 2)[3] == 255,
            "a grey track only"
        );
    }

    #[test]
    fn drawing_is_deterministic_and_percent_changes_pixels() {
        assert_eq!(
            render(TrayState::Running, Some(62), 22),
            render(TrayState::Running, Some(62), 22)
        );
        assert_ne!(
            render(TrayState::Running, Some(62), 22),
            render(TrayState::Running, Some(70), 22)
        );
        assert_eq!(state_colour(TrayState::Running), [47, 125, 225]);
    }
}
