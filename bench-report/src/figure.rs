//! What the report shows: bar figures (one value per contender) and curves, each compared
//! with the best peer.

/// What a row is, for the ratio: ours against the best peer; floors are references only.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Ours,
    Peer,
    Floor,
}

/// A row's role from its name: `twat_cache …` is ours, `… (floor)` and `… (reference)` are
/// references, the rest peers.
pub fn role_of(name: &str) -> Role {
    if name.starts_with("twat_cache") {
        Role::Ours
    } else if name.contains("(floor)") || name.contains("(reference)") {
        Role::Floor
    } else {
        Role::Peer
    }
}

/// One value per contender.
pub struct Bars {
    /// File stem of the plot (`plots/<id>.svg`).
    pub id: &'static str,
    pub title: String,
    pub unit: &'static str,
    pub lower_is_better: bool,
    pub rows: Vec<(String, f64)>,
    /// How it was measured, in a sentence.
    pub how: String,
}

impl Bars {
    /// What ours is compared with: the best peer; without peers, the best reference.
    pub fn best_peer(&self) -> Option<&(String, f64)> {
        let best = |role: Role| {
            let rows = self.rows.iter().filter(move |(n, _)| role_of(n) == role);
            if self.lower_is_better {
                rows.min_by(|a, b| a.1.total_cmp(&b.1))
            } else {
                rows.max_by(|a, b| a.1.total_cmp(&b.1))
            }
        };
        best(Role::Peer).or_else(|| best(Role::Floor))
    }

    /// `value ÷ best peer` (for both directions; the table says which way is better).
    pub fn ratio(&self, value: f64) -> Option<f64> {
        self.best_peer().map(|(_, peer)| value / peer)
    }
}

/// Series of (x, y) points, one per contender.
pub struct Curves {
    pub id: &'static str,
    pub title: String,
    pub x_label: &'static str,
    pub y_label: &'static str,
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    pub how: String,
}
