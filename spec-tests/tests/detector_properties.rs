//! Property tests of order expansion and plan resolution against the built detector:
//! random orders of component and composite buildpacks (optional or not) whose detects
//! pass or opt out with random plans; the group.toml the binary writes must be the one
//! a direct model of the rules picks, and detection must fail exactly when the model
//! finds no group.

use proptest::prelude::*;
use spec_tests::{Bp, Build, run};

const NAMES: [&str; 2] = ["a", "b"];

#[derive(Debug, Clone)]
struct Leaf {
    passes: bool,
    provides: Vec<&'static str>,
    requires: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Ref {
    id: String,
    optional: bool,
}

#[derive(Debug, Clone)]
struct Case {
    leaves: Vec<Leaf>,
    /// Composite i may reference leaves and composites j < i.
    composites: Vec<Vec<Vec<Ref>>>,
    order: Vec<Vec<Ref>>,
}

fn leaf_id(i: usize) -> String {
    format!("leaf{i}")
}

fn composite_id(i: usize) -> String {
    format!("comp{i}")
}

fn arb_leaf() -> impl Strategy<Value = Leaf> {
    let names = prop::sample::subsequence(NAMES.to_vec(), 0..=2);
    (prop::bool::weighted(0.8), names.clone(), names).prop_map(|(passes, provides, requires)| {
        Leaf {
            passes,
            provides,
            requires,
        }
    })
}

fn arb_ref(ids: Vec<String>) -> impl Strategy<Value = Ref> {
    (prop::sample::select(ids), prop::bool::weighted(0.3))
        .prop_map(|(id, optional)| Ref { id, optional })
}

fn arb_case() -> impl Strategy<Value = Case> {
    (prop::collection::vec(arb_leaf(), 2..5), 0usize..3)
        .prop_flat_map(|(leaves, ncomp)| {
            let leaf_ids: Vec<String> = (0..leaves.len()).map(leaf_id).collect();
            let mut comps = Vec::new();
            for c in 0..ncomp {
                let mut ids = leaf_ids.clone();
                ids.extend((0..c).map(composite_id));
                comps.push(prop::collection::vec(
                    prop::collection::vec(arb_ref(ids), 1..3),
                    1..3,
                ));
            }
            let mut all = leaf_ids;
            all.extend((0..ncomp).map(composite_id));
            let order = prop::collection::vec(prop::collection::vec(arb_ref(all), 1..4), 1..3);
            (Just(leaves), comps, order)
        })
        .prop_map(|(leaves, composites, order)| Case {
            leaves,
            composites,
            order,
        })
}

/// The model: the reference's walk (groups in order; the first composite of a group is
/// replaced by each of its groups followed by the rest; an optional composite whose
/// groups all fail is dropped; IDs already in the group skipped), then the verdict and
/// plan resolution for one alternative per element.
struct Model<'a>(&'a Case);

impl Model<'_> {
    fn walk_order(
        &self,
        groups: &[Vec<Ref>],
        done: &[Ref],
        next: &[Ref],
        optional: bool,
    ) -> Option<Vec<String>> {
        for g in groups {
            let entries: Vec<Ref> = g.iter().chain(next).cloned().collect();
            if let Some(found) = self.walk_group(&entries, done.to_vec()) {
                return Some(found);
            }
        }
        if optional {
            return self.walk_group(next, done.to_vec());
        }
        None
    }

    fn walk_group(&self, entries: &[Ref], mut done: Vec<Ref>) -> Option<Vec<String>> {
        for (i, r) in entries.iter().enumerate() {
            if done.iter().any(|d| d.id == r.id) {
                continue;
            }
            if let Some(c) = r.id.strip_prefix("comp") {
                let c: usize = c.parse().unwrap();
                return self.walk_order(
                    &self.0.composites[c],
                    &done,
                    &entries[i + 1..],
                    r.optional,
                );
            }
            done.push(r.clone());
        }
        self.verdict(&done)
    }

    fn leaf(&self, id: &str) -> &Leaf {
        &self.0.leaves[id.strip_prefix("leaf").unwrap().parse::<usize>().unwrap()]
    }

    fn verdict(&self, done: &[Ref]) -> Option<Vec<String>> {
        if done.iter().any(|r| !r.optional && !self.leaf(&r.id).passes) {
            return None;
        }
        let mut alive: Vec<&Ref> = done.iter().filter(|r| self.leaf(&r.id).passes).collect();
        if alive.is_empty() {
            return None;
        }
        loop {
            let bad: Vec<usize> = (0..alive.len())
                .filter(|&pos| {
                    let l = self.leaf(&alive[pos].id);
                    let met = l.requires.iter().all(|n| {
                        alive[..=pos]
                            .iter()
                            .any(|r| self.leaf(&r.id).provides.contains(n))
                    });
                    let used = l.provides.iter().all(|n| {
                        alive[pos..]
                            .iter()
                            .any(|r| self.leaf(&r.id).requires.contains(n))
                    });
                    !(met && used)
                })
                .collect();
            if bad.is_empty() {
                break;
            }
            if bad.iter().any(|&i| !alive[i].optional) {
                return None;
            }
            alive = alive
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !bad.contains(i))
                .map(|(_, r)| r)
                .collect();
            if alive.is_empty() {
                return None;
            }
        }
        Some(alive.iter().map(|r| r.id.clone()).collect())
    }
}

fn group_toml(groups: &[Vec<Ref>], table: &str) -> String {
    let mut s = String::new();
    for g in groups {
        s.push_str(&format!("[[{table}]]\n"));
        for r in g {
            s.push_str(&format!(
                "[[{table}.group]]\nid = \"{}\"\nversion = \"1\"\noptional = {}\n",
                r.id, r.optional
            ));
        }
    }
    s
}

fn plan_script(leaf: &Leaf) -> String {
    if !leaf.passes {
        return "exit 100\n".into();
    }
    let mut toml = String::new();
    for p in &leaf.provides {
        toml.push_str(&format!("[[provides]]\nname = \"{p}\"\n"));
    }
    for r in &leaf.requires {
        toml.push_str(&format!("[[requires]]\nname = \"{r}\"\n"));
    }
    format!("cat > \"$CNB_BUILD_PLAN_PATH\" <<'EOF'\n{toml}EOF\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn detector_matches_model(case in arb_case()) {
        let b = Build::new("0.15");
        for (i, leaf) in case.leaves.iter().enumerate() {
            b.buildpack(&Bp::new(&leaf_id(i), "1", "0.10").detect(&plan_script(leaf)));
        }
        for (i, groups) in case.composites.iter().enumerate() {
            b.buildpack(&Bp::new(&composite_id(i), "1", "0.10").composite(&group_toml(groups, "order")));
        }
        b.order(&group_toml(&case.order, "order"));
        let mut args = b.dir_flags();
        args.extend(["-order".to_string(), b.path("cnb/order.toml").display().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = run(&mut b.phase("detector", &args));

        let want = Model(&case).walk_order(&case.order, &[], &[], false);
        match want {
            None => prop_assert_eq!(ran.code, 20, "{}", ran.all()),
            Some(ids) => {
                prop_assert_eq!(ran.code, 0, "{}", ran.all());
                let group: toml::Table = toml::from_str(&b.read("layers/group.toml")).unwrap();
                let got: Vec<String> = group["group"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_string())
                    .collect();
                prop_assert_eq!(got, ids);
                let plan: toml::Table = toml::from_str(&b.read("layers/plan.toml")).unwrap();
                for entry in plan.get("entries").and_then(|e| e.as_array()).into_iter().flatten() {
                    prop_assert!(!entry["providers"].as_array().unwrap().is_empty());
                    prop_assert!(!entry["requires"].as_array().unwrap().is_empty());
                }
            }
        }
    }
}
