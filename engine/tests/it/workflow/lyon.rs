//! Lyon's bicycle aid: two levels of approval by two plan roles of the same kind (approver),
//! kept apart by the actor's plan roles and by separation of duties.

use super::*;

const FUND: &str = "aide-velo";

const NO_ROLES: &[String] = &[];

fn approver(id: &'static str, roles: &'static [String]) -> Actor<'static> {
    Actor {
        id,
        kind: Some(RoleKind::Approver),
        roles,
    }
}

fn roles(r: &[&str]) -> &'static [String] {
    Box::leak(
        r.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

fn base_velo(r: Row) -> Row {
    r.facts(|f| {
        f.owner = "demandeur-1".into();
        f.requested = Some(Decimal::from(500));
    })
}

#[test]
fn each_level_of_approval_is_its_plan_role() {
    let chef = approver("chef", roles(&["chef-de-service"]));
    let conseiller = approver("conseiller", roles(&["conseiller-delegue"]));
    let any = approver("ancien", NO_ROLES);
    let both = approver("deux", roles(&["chef-de-service", "conseiller-delegue"]));
    let demandeur = person("demandeur-1", RoleKind::Applicant);
    let rows = vec![
        row(
            "the head of service validates",
            "valider",
            chef.clone(),
            "a-valider",
        ),
        row(
            "the head of service does not award",
            "attribuer",
            chef.clone(),
            "a-attribuer",
        )
        .amount("500")
        .want(Refused("wrong-role")),
        row(
            "the councillor awards",
            "attribuer",
            conseiller.clone(),
            "a-attribuer",
        )
        .amount("500")
        .want(effects(&[commit("500")])),
        row(
            "the councillor does not validate",
            "valider",
            conseiller.clone(),
            "a-valider",
        )
        .want(Refused("wrong-role")),
        row(
            "the councillor refuses at the first level",
            "refuser",
            conseiller.clone(),
            "a-valider",
        )
        .reason(),
        row(
            "the head of service does not refuse",
            "refuser",
            chef,
            "a-valider",
        )
        .reason()
        .want(Refused("wrong-role")),
        row(
            "an approver without plan roles validates",
            "valider",
            any.clone(),
            "a-valider",
        ),
        row(
            "an approver without plan roles awards",
            "attribuer",
            any.clone(),
            "a-attribuer",
        )
        .amount("500")
        .want(effects(&[commit("500")])),
        row(
            "an approver without plan roles does not verify the invoice",
            "verifier-facture",
            any.clone(),
            "a-verifier",
        )
        .want(Refused("wrong-role")),
        row(
            "an approver without plan roles does not pay",
            "verser",
            any.clone(),
            "attribuee",
        )
        .money(ledger("500", "0", "0"))
        .want(Refused("wrong-role")),
        row(
            "holding both roles, one validates",
            "valider",
            both.clone(),
            "a-valider",
        ),
        row(
            "holding both roles, whoever validated does not award",
            "attribuer",
            both,
            "a-attribuer",
        )
        .facts(|f| f.steps = vec![("valider".into(), "deux".into())])
        .amount("500")
        .want(RefusedSaying("distinct-from", "`valider`")),
        row(
            "whoever verified the invoice does not validate",
            "valider",
            any.clone(),
            "a-valider",
        )
        .facts(|f| f.steps = vec![("verifier-facture".into(), "ancien".into())])
        .want(Refused("distinct-from")),
        row(
            "the filer does not validate",
            "valider",
            any.clone(),
            "a-valider",
        )
        .facts(|f| f.actor_is_filer = true)
        .want(Refused("not-filer")),
        row(
            "the instructor verifies the invoice",
            "verifier-facture",
            INSTRUCTOR,
            "a-verifier",
        ),
        row(
            "verifying the invoice takes no application data",
            "verifier-facture",
            INSTRUCTOR,
            "a-verifier",
        )
        .input(|i| i.data = true)
        .want(Refused("data-not-accepted")),
        row(
            "the award is within the request",
            "attribuer",
            any.clone(),
            "a-attribuer",
        )
        .amount("500.01")
        .want(Refused("amount-within-request")),
        row(
            "the payment is the award, in one go",
            "verser",
            person("compta", RoleKind::Finance),
            "attribuee",
        )
        .money(ledger("500", "0", "0"))
        .want(effects(&[payment("500")])),
        row(
            "whoever awarded does not pay",
            "verser",
            person("compta", RoleKind::Finance),
            "attribuee",
        )
        .facts(|f| f.steps = vec![("attribuer".into(), "compta".into())])
        .money(ledger("500", "0", "0"))
        .want(Refused("distinct-from")),
        row(
            "the applicant files with data",
            "deposer",
            demandeur.clone(),
            "brouillon",
        )
        .input(|i| i.data = true),
        row(
            "metroplan does not validate",
            "valider",
            SYSTEM,
            "a-valider",
        )
        .want(Refused("wrong-role")),
        row(
            "metroplan finds the request incomplete",
            "declarer-incomplete",
            SYSTEM,
            "deposee",
        )
        .facts(|f| f.outcome = Some(Outcome::Incomplete)),
    ];
    run("lyon-pama", FUND, rows.into_iter().map(base_velo).collect());
}
