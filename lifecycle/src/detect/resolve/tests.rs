use super::*;
use buildpack_api::plan::Provide;
use proptest::prelude::*;

fn el(id: &str, optional: bool) -> GroupElement {
    GroupElement {
        id: id.into(),
        version: "1".into(),
        api: "0.10".into(),
        optional,
        ..GroupElement::default()
    }
}

fn req(name: &str) -> Require {
    Require {
        name: name.into(),
        ..Require::default()
    }
}

fn prov(name: &str) -> Provide {
    Provide { name: name.into() }
}

fn sections(provides: &[&str], requires: &[&str]) -> PlanSection {
    PlanSection {
        provides: provides.iter().map(|n| prov(n)).collect(),
        requires: requires.iter().map(|n| req(n)).collect(),
    }
}

fn pass(options: Vec<PlanSection>) -> DetectRun {
    DetectRun {
        code: CODE_PASS,
        options,
        ..DetectRun::default()
    }
}

fn fail() -> DetectRun {
    DetectRun {
        code: CODE_FAIL,
        ..DetectRun::default()
    }
}

fn ids(group: &[GroupElement]) -> Vec<&str> {
    group.iter().map(|e| e.id.as_str()).collect()
}

fn run(done: &[GroupElement], runs: &[DetectRun]) -> Result<Resolved, GroupFailure> {
    let refs: Vec<&DetectRun> = runs.iter().collect();
    resolve(done, &refs, &mut LogBuffer::default())
}

#[test]
fn provider_then_requirer_resolves() {
    let done = [el("A", false), el("B", false)];
    let runs = [
        pass(vec![sections(&["dep"], &[])]),
        pass(vec![sections(&[], &["dep"])]),
    ];
    let (group, plan) = run(&done, &runs).unwrap();
    assert_eq!(ids(&group), ["A", "B"]);
    assert_eq!(plan.len(), 1);
    assert_eq!(ids(&plan[0].providers), ["A"]);
    assert_eq!(
        plan[0].providers[0].api, "",
        "providers carry id and version only"
    );
    assert_eq!(plan[0].requires[0].name, "dep");
}

#[test]
fn require_before_provide_fails_a_required_element() {
    let done = [el("A", false), el("B", false)];
    let runs = [
        pass(vec![sections(&[], &["dep"])]),
        pass(vec![sections(&["dep"], &[])]),
    ];
    assert_eq!(
        run(&done, &runs).unwrap_err(),
        GroupFailure::FailedDetection
    );
}

#[test]
fn own_provide_satisfies_own_require() {
    let done = [el("A", false)];
    let runs = [pass(vec![sections(&["dep"], &["dep"])])];
    let (group, plan) = run(&done, &runs).unwrap();
    assert_eq!(ids(&group), ["A"]);
    assert_eq!(ids(&plan[0].providers), ["A"]);
}

#[test]
fn optional_with_unused_provide_is_dropped() {
    let done = [el("A", true), el("B", false)];
    let runs = [pass(vec![sections(&["x"], &[])]), pass(vec![])];
    let (group, plan) = run(&done, &runs).unwrap();
    assert_eq!(ids(&group), ["B"]);
    assert!(plan.is_empty());
}

#[test]
fn failed_optional_is_skipped_and_required_failure_fails() {
    let done = [el("A", true), el("B", false)];
    assert!(run(&done, &[fail(), pass(vec![])]).is_ok());
    assert_eq!(
        run(&done, &[pass(vec![]), fail()]).unwrap_err(),
        GroupFailure::FailedDetection
    );
}

#[test]
fn errors_are_reported_as_buildpack_errors() {
    let done = [el("A", false)];
    let errored = DetectRun {
        code: 1,
        ..DetectRun::default()
    };
    assert_eq!(
        run(&done, &[errored]).unwrap_err(),
        GroupFailure::BuildpackError
    );
}

#[test]
fn extensions_alone_do_not_pass_a_group() {
    let mut ext = el("E", true);
    ext.extension = true;
    let runs = [pass(vec![sections(&["x"], &[])])];
    assert_eq!(
        run(&[ext], &runs).unwrap_err(),
        GroupFailure::FailedDetection
    );
}

#[test]
fn or_alternatives_are_tried_in_order() {
    // A offers first "a" (nobody requires it: unused), then "b" (required by B).
    let done = [el("A", false), el("B", false)];
    let runs = [
        pass(vec![sections(&["a"], &[]), sections(&["b"], &[])]),
        pass(vec![sections(&[], &["b"])]),
    ];
    let (group, plan) = run(&done, &runs).unwrap();
    assert_eq!(ids(&group), ["A", "B"]);
    assert_eq!(plan[0].requires[0].name, "b");
}

#[test]
fn only_the_last_alternative_keeps_optional() {
    // Optional A: its first alternative requires something missing. That alternative is
    // not optional, so the trial fails instead of dropping A, and the second (empty,
    // optional) alternative keeps A in the group. Were every alternative optional, the
    // first trial would drop A and yield [B].
    let done = [el("A", true), el("B", false)];
    let runs = [
        pass(vec![sections(&[], &["missing"]), sections(&[], &[])]),
        pass(vec![]),
    ];
    let (group, _) = run(&done, &runs).unwrap();
    assert_eq!(ids(&group), ["A", "B"]);
}

#[test]
fn several_providers_and_requirers_share_one_entry() {
    let done = [el("A", false), el("B", false), el("C", false)];
    let runs = [
        pass(vec![sections(&["n"], &[])]),
        pass(vec![sections(&["n"], &["n"])]),
        pass(vec![sections(&[], &["n"])]),
    ];
    let (_, plan) = run(&done, &runs).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(ids(&plan[0].providers), ["A", "B"]);
    assert_eq!(plan[0].requires.len(), 2);
}

/// A straightforward model of the rules: for a fixed choice of one alternative per
/// element, repeatedly drop optional elements with an unmet require or unused provide.
fn model(elements: &[(bool, PlanSection)]) -> Option<Vec<usize>> {
    let mut alive: Vec<usize> = (0..elements.len()).collect();
    loop {
        let mut bad = Vec::new();
        for (pos, &i) in alive.iter().enumerate() {
            let s = &elements[i].1;
            let met = |name: &str| {
                alive[..=pos]
                    .iter()
                    .any(|&j| elements[j].1.provides.iter().any(|p| p.name == name))
            };
            let used = |name: &str| {
                alive[pos..]
                    .iter()
                    .any(|&j| elements[j].1.requires.iter().any(|r| r.name == name))
            };
            let requires_ok = s.requires.iter().all(|r| {
                // the provide must precede the require; own provides count
                met(&r.name)
            });
            let provides_ok = s.provides.iter().all(|p| used(&p.name));
            if !requires_ok || !provides_ok {
                bad.push(i);
            }
        }
        if bad.is_empty() {
            return if alive.is_empty() { None } else { Some(alive) };
        }
        if bad.iter().any(|&i| !elements[i].0) {
            return None;
        }
        alive.retain(|i| !bad.contains(i));
    }
}

fn arb_sections() -> impl Strategy<Value = PlanSection> {
    let names = prop::sample::select(vec!["a", "b", "c"]);
    (
        prop::collection::vec(names.clone(), 0..3),
        prop::collection::vec(names, 0..3),
    )
        .prop_map(|(p, r)| sections(&p, &r))
}

proptest! {
    /// With one alternative per element, the resolver agrees with the model on which
    /// elements participate, and every plan entry has a provider and a require.
    #[test]
    fn single_alternative_matches_model(elements in prop::collection::vec((any::<bool>(), arb_sections()), 1..6)) {
        let done: Vec<GroupElement> = elements
            .iter()
            .enumerate()
            .map(|(i, (opt, _))| el(&format!("bp{i}"), *opt))
            .collect();
        let runs: Vec<DetectRun> = elements.iter().map(|(_, s)| pass(vec![s.clone()])).collect();
        let got = run(&done, &runs).ok().map(|(g, plan)| {
            for entry in &plan {
                assert!(!entry.providers.is_empty() && !entry.requires.is_empty());
                assert!(entry.requires.iter().all(|r| r.name == entry.requires[0].name));
            }
            g.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
        });
        let want = model(&elements).map(|alive| alive.iter().map(|i| format!("bp{i}")).collect::<Vec<_>>());
        prop_assert_eq!(got, want);
    }

    /// Whatever the alternatives, a resolved group keeps the original order and
    /// contains every non-optional element.
    #[test]
    fn resolved_groups_keep_order_and_required_elements(
        elements in prop::collection::vec((any::<bool>(), prop::collection::vec(arb_sections(), 1..3)), 1..5)
    ) {
        let done: Vec<GroupElement> = elements
            .iter()
            .enumerate()
            .map(|(i, (opt, _))| el(&format!("bp{i}"), *opt))
            .collect();
        let runs: Vec<DetectRun> = elements.iter().map(|(_, alts)| pass(alts.clone())).collect();
        if let Ok((group, _)) = run(&done, &runs) {
            let positions: Vec<usize> = group
                .iter()
                .map(|g| done.iter().position(|d| d.id == g.id).unwrap())
                .collect();
            prop_assert!(positions.windows(2).all(|w| w[0] < w[1]));
            for (i, (opt, _)) in elements.iter().enumerate() {
                if !opt {
                    prop_assert!(positions.contains(&i));
                }
            }
            prop_assert!(group.iter().all(|g| !g.optional));
        }
    }
}
