//! `batchwatch-cli` against an unkind server, end to end: the real binary, the simulator on
//! loopback playing the server, and bare listeners playing "another host" and a proxy that
//! count every connection made to them.

mod support;

use std::time::Duration;

use batchwatch_test_support::net::CountingListener;
use support::{cli_on, run, run_with, sim};
use trillet_sim::{BatchScript, Fault, FaultTarget};

const FROZEN: f64 = 1e-9;

#[test]
fn status_and_cancel_never_follow_a_redirect_with_the_key() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_moved"));
    let other = CountingListener::start();
    let port = other.port;
    for status in [302, 307] {
        control.set_fault(
            FaultTarget::Batch("batch_moved".into()),
            Fault::Redirect {
                status,
                location: format!("http://127.0.0.1:{port}/v1/api/batch-calls/batch_moved"),
            },
        );
        control.clear_requests();
        let args: &[&str] = if status == 302 {
            &["status", "batch_moved"]
        } else {
            &["cancel", "--yes", "batch_moved"]
        };
        let out = run(cli_on(&sim, args));
        out.assert_code(5);
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains(&format!("redirect ({status}) to 127.0.0.1:{port}"))
                && said.contains("the API key was not sent there"),
            "{out:#?}"
        );
        assert_eq!(other.connections(), 0, "nothing went to the other host");
        let methods: Vec<String> = control
            .requests()
            .iter()
            .map(|r| r.method.clone())
            .collect();
        let expected = if status == 302 { "GET" } else { "DELETE" };
        assert_eq!(
            methods,
            vec![expected.to_owned()],
            "asked once, never repeated"
        );
    }
}

#[test]
fn a_loopback_base_never_goes_through_a_proxy() {
    let sim = sim(FROZEN);
    sim.control()
        .add_batch(BatchScript::new(10).id("batch_direct"));
    let proxied = CountingListener::start();
    let proxy = format!("http://127.0.0.1:{}", proxied.port);
    let mut command = cli_on(&sim, &["status", "batch_direct"]);
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(name, &proxy);
    }
    command.env_remove("NO_PROXY").env_remove("no_proxy");
    run(command).assert_code(0);
    assert_eq!(
        sim.control().request_count("batch_direct"),
        1,
        "answered directly"
    );
    assert_eq!(proxied.connections(), 0, "the proxy saw nothing");
}

#[test]
fn an_answer_too_large_is_refused_plainly() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_big"));
    control.set_fault(
        FaultTarget::Batch("batch_big".into()),
        Fault::OversizedBody {
            bytes: 60 * 1024 * 1024,
            chunked: true,
        },
    );
    let out = run(cli_on(&sim, &["status", "batch_big"]));
    out.assert_code(5);
    assert!(
        out.stdout.contains("answer too large (over 1024 KiB)"),
        "{out:#?}"
    );
}

#[test]
fn an_absurd_rate_limit_wait_ends_a_one_shot_command_at_once() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_a"));
    control.add_batch(BatchScript::new(10).id("batch_b"));
    control.set_fault(
        FaultTarget::All,
        Fault::TooManyRequests {
            retry_after_secs: Some(315_360_000),
            reset_in_secs: None,
        },
    );
    for args in [
        &["status", "batch_a", "batch_b"][..],
        &["failed", "batch_a"][..],
        &["cancel", "--yes", "batch_a"][..],
    ] {
        control.clear_requests();
        // Ten years would be waited out three times over before this change; the run limit
        // is what a waiting command would hit.
        let out = run_with(cli_on(&sim, args), "", Duration::from_secs(30));
        out.assert_code(5);
        let line = out.stderr.lines().last().unwrap_or_default();
        assert!(
            line.starts_with("batchwatch-cli: rate-limited by Trillet; try again after 20"),
            "{args:?}: {out:#?}"
        );
        assert_eq!(
            control.requests().len(),
            1,
            "{args:?}: asked once, then stopped"
        );
    }
}

#[test]
fn counters_at_the_top_of_u64_are_shown_not_a_panic() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(10).id("batch_huge"));
    control.set_fault(FaultTarget::Batch("batch_huge".into()), Fault::MaxCounters);
    for args in [
        &["status", "batch_huge"][..],
        &["status", "--json", "batch_huge"][..],
    ] {
        let out = run(cli_on(&sim, args));
        out.assert_code(0);
        assert!(out.stdout.contains("18446744073709551615"), "{out:#?}");
    }
}

#[test]
fn pages_that_always_claim_more_end_and_say_so() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(trillet_sim::failing_batch("batch_loop"));
    control.set_fault(FaultTarget::Batch("batch_loop".into()), Fault::EndlessPages);
    let out = run(cli_on(&sim, &["failed", "batch_loop"]));
    out.assert_code(0);
    assert!(out.stdout.contains("stopped early"), "{out:#?}");
    assert!(out.stderr.contains("stopped early"), "{out:#?}");
    let pages = control
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/calls"))
        .count();
    // The real pages, then the first page past them (empty, yet "more"), then no more.
    assert!(pages <= 5, "{pages} pages asked");
}

#[test]
fn a_cancel_refused_with_a_short_rate_limit_is_asked_again_once_the_wait_is_over() {
    let sim = sim(FROZEN);
    let control = sim.control();
    control.add_batch(BatchScript::new(2000).id("batch_busy"));
    let target = FaultTarget::Batch("batch_busy".into());
    control.set_fault(
        target.clone(),
        Fault::TooManyRequests {
            retry_after_secs: Some(1),
            reset_in_secs: None,
        },
    );
    let running = support::start_with(cli_on(&sim, &["cancel", "--yes", "batch_busy"]), "");
    support::wait_until("the first cancel refused", || {
        control.requests().first().is_some_and(|r| r.status == 429)
    });
    control.clear_fault(target);
    let out = running.finish(Duration::from_secs(20));
    out.assert_code(0);
    assert!(out.stdout.contains("batch_busy cancelled"), "{out:#?}");
    assert!(
        out.stderr.contains("waiting"),
        "said while it waited: {out:#?}"
    );
    let statuses: Vec<u16> = control.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![429, 200],
        "refused once, then cancelled once"
    );
}
