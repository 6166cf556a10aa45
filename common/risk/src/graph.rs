//! The communication graph of a site: assets as nodes, conversations as undirected edges.
//!
//! A single point of failure is an articulation point (a node whose removal disconnects its
//! component) that separates controllers from every system that supervises them. Articulation
//! points are found with one iterative depth-first search (Hopcroft and Tarjan, 1973): a child
//! `c` of `v` in the DFS tree whose subtree reaches no ancestor of `v` (`low[c] >= disc[v]`)
//! is cut off when `v` goes, and that subtree is exactly the DFS-order range
//! `disc[c] .. disc[c] + size[c]`, so what each articulation point cuts is known without a
//! second search.

use crate::score::Role;

/// Nodes `0..n` with roles and undirected edges; parallel edges and self-loops are ignored.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    roles: Vec<Role>,
    adj: Vec<Vec<usize>>,
}

impl Graph {
    /// A graph of nodes with these roles and no edges.
    pub fn new(roles: Vec<Role>) -> Graph {
        let adj = vec![Vec::new(); roles.len()];
        Graph { roles, adj }
    }

    /// Adds the conversation `a`–`b`; out-of-range nodes and self-loops are ignored.
    pub fn connect(&mut self, a: usize, b: usize) {
        if a == b || a >= self.adj.len() || b >= self.adj.len() {
            return;
        }
        self.adj[a].push(b);
        self.adj[b].push(a);
    }

    fn dedup(&mut self) {
        for list in &mut self.adj {
            list.sort_unstable();
            list.dedup();
        }
    }
}

/// An asset whose loss cuts controllers off from every supervisory system they reach now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinglePointOfFailure {
    pub node: usize,
    /// Controllers left without any supervisory system, sorted.
    pub cut_controllers: Vec<usize>,
    /// The supervisory systems they lose, sorted.
    pub cut_from: Vec<usize>,
}

/// The articulation points of `g` that cut controllers from their supervisors, in node order.
pub fn single_points_of_failure(g: &Graph) -> Vec<SinglePointOfFailure> {
    let mut g = g.clone();
    g.dedup();
    let n = g.adj.len();
    let dfs = Dfs::run(&g);
    // DFS positions of controllers and of supervisory systems, ascending: the members of a
    // subtree (a position range) are a slice found by binary search, so each articulation
    // point costs its number of cut subtrees plus what it reports, never a walk of its
    // component.
    let positions =
        |role: Role| -> Vec<usize> { (0..n).filter(|&p| g.roles[dfs.order[p]] == role).collect() };
    let (ctrl, sup) = (positions(Role::Controller), positions(Role::Supervisory));
    let within = |list: &[usize], (s, e): (usize, usize)| -> (usize, usize) {
        (
            list.partition_point(|&p| p < s),
            list.partition_point(|&p| p < e),
        )
    };
    let mut out = Vec::new();
    for v in 0..n {
        let cut = &dfs.cut_children[v];
        if cut.is_empty() {
            continue;
        }
        // The parts of v's component once v is gone: each cut-off subtree, and the rest.
        let ranges: Vec<(usize, usize)> = cut
            .iter()
            .map(|&c| (dfs.disc[c], dfs.disc[c] + dfs.size[c]))
            .collect();
        let count = |list: &[usize], r| {
            let (a, b) = within(list, r);
            b - a
        };
        let comp = dfs.comp[v];
        let own = |role| usize::from(g.roles[v] == role);
        let in_cut = |list: &[usize]| ranges.iter().map(|&r| count(list, r)).sum::<usize>();
        let rest_ctrl = count(&ctrl, comp) - in_cut(&ctrl) - own(Role::Controller);
        let rest_sup = count(&sup, comp) - in_cut(&sup) - own(Role::Supervisory);
        let total_sup = count(&sup, comp) - own(Role::Supervisory);
        // A part with controllers and no supervisor of its own, while others have some.
        let orphaned = |c: usize, s: usize| c > 0 && s == 0 && total_sup > s;
        let mut cut_controllers = Vec::new();
        let mut cut_from = Vec::new();
        let mut lost = |part: Option<(usize, usize)>| {
            let members = |list: &[usize]| -> Vec<usize> {
                match part {
                    Some(r) => {
                        let (a, b) = within(list, r);
                        list[a..b].iter().map(|&p| dfs.order[p]).collect()
                    }
                    None => {
                        let (a, b) = within(list, comp);
                        list[a..b]
                            .iter()
                            .filter(|&&p| {
                                dfs.order[p] != v && !ranges.iter().any(|&(s, e)| s <= p && p < e)
                            })
                            .map(|&p| dfs.order[p])
                            .collect()
                    }
                }
            };
            cut_controllers.extend(members(&ctrl));
            // Every supervisor of the component outside this part.
            let (a, b) = within(&sup, comp);
            let inside = |p: usize| match part {
                Some((s, e)) => s <= p && p < e,
                None => !ranges.iter().any(|&(s, e)| s <= p && p < e),
            };
            cut_from.extend(
                sup[a..b]
                    .iter()
                    .filter(|&&p| dfs.order[p] != v && !inside(p))
                    .map(|&p| dfs.order[p]),
            );
        };
        for &r in &ranges {
            if orphaned(count(&ctrl, r), count(&sup, r)) {
                lost(Some(r));
            }
        }
        if orphaned(rest_ctrl, rest_sup) {
            lost(None);
        }
        if cut_controllers.is_empty() {
            continue;
        }
        cut_controllers.sort_unstable();
        cut_from.sort_unstable();
        cut_from.dedup();
        out.push(SinglePointOfFailure {
            node: v,
            cut_controllers,
            cut_from,
        });
    }
    out
}

/// The result of one DFS over every component.
struct Dfs {
    /// Node at each DFS position.
    order: Vec<usize>,
    disc: Vec<usize>,
    size: Vec<usize>,
    /// Per node, the DFS children whose subtrees only it connects to the rest.
    cut_children: Vec<Vec<usize>>,
    /// Per node, the DFS position range of its component.
    comp: Vec<(usize, usize)>,
}

impl Dfs {
    fn run(g: &Graph) -> Dfs {
        let n = g.adj.len();
        let mut d = Dfs {
            order: Vec::with_capacity(n),
            disc: vec![usize::MAX; n],
            size: vec![1; n],
            cut_children: vec![Vec::new(); n],
            comp: vec![(0, 0); n],
        };
        let mut low = vec![0usize; n];
        let mut parent = vec![usize::MAX; n];
        // (node, next neighbour index): an explicit stack, so a long chain of a million
        // assets cannot overflow the thread's stack.
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in 0..n {
            if d.disc[root] != usize::MAX {
                continue;
            }
            let start = d.order.len();
            d.disc[root] = start;
            low[root] = start;
            d.order.push(root);
            stack.push((root, 0));
            while let Some(&mut (v, ref mut next)) = stack.last_mut() {
                if let Some(&w) = g.adj[v].get(*next) {
                    *next += 1;
                    if d.disc[w] == usize::MAX {
                        parent[w] = v;
                        d.disc[w] = d.order.len();
                        low[w] = d.disc[w];
                        d.order.push(w);
                        stack.push((w, 0));
                    } else if w != parent[v] {
                        low[v] = low[v].min(d.disc[w]);
                    }
                    continue;
                }
                stack.pop();
                let p = parent[v];
                if p != usize::MAX {
                    low[p] = low[p].min(low[v]);
                    d.size[p] += d.size[v];
                    if low[v] >= d.disc[p] {
                        d.cut_children[p].push(v);
                    }
                }
            }
            // The root is an articulation point only with two or more DFS children; with one,
            // its single child's subtree is the whole rest and nothing is cut.
            if d.cut_children[root].len() < 2 {
                d.cut_children[root].clear();
            }
            let end = d.order.len();
            for &u in &d.order[start..end] {
                d.comp[u] = (start, end);
            }
        }
        d
    }
}

/// A conversation between an enterprise-level asset (Purdue 4-5) and a field-level one (0-1),
/// skipping the levels between them that should broker it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelSkip {
    pub a: usize,
    pub b: usize,
    pub a_level: u8,
    pub b_level: u8,
}

/// The edges of `edges` whose ends are at levels 4-5 and 0-1, in input order, each once.
pub fn level_skips(levels: &[Option<u8>], edges: &[(usize, usize)]) -> Vec<LevelSkip> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for &(a, b) in edges {
        let (Some(Some(la)), Some(Some(lb))) = (levels.get(a), levels.get(b)) else {
            continue;
        };
        let skips = (*la >= 4 && *lb <= 1) || (*lb >= 4 && *la <= 1);
        if skips && seen.insert((a.min(b), a.max(b))) {
            out.push(LevelSkip {
                a,
                b,
                a_level: *la,
                b_level: *lb,
            });
        }
    }
    out
}
