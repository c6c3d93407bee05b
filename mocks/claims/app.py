"""The dental claims backend: members, eligibility, benefits, claims, providers and procedures.

An office names itself (``provider_id``) and sees only the claims it submitted; a member asking for
themself names no office and sees every claim of theirs. Who may act for whom is not checked here:
the mesh's dental policy pack lets only a verified caller read a member's records.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from mocks.common.app import Call, Handler, Reply, build_app
from mocks.common.contract import Contract
from mocks.common.faults import FaultConfig
from mocks.common.jsonish import iso_date, iso_datetime, parse_date
from mocks.common.problems import Problem, not_found
from mocks.world import World, build_world
from mocks.world.model import Claim, Member, Plan
from mocks.world.reference import PROCEDURES

CONTRACT = Path(__file__).with_name("openapi.yaml")
CLASSES = ("preventive", "basic", "major", "orthodontics")
DEDUCTIBLE_CLASSES = frozenset({"basic", "major", "orthodontics"})
MAX_PROVIDERS = 25

# What offices and patients call each procedure, besides its code and its catalogue name: a
# name may stand for several procedures ("crown", "exam"), and a longer one for fewer.
PROCEDURE_NAMES = {
    "D0120": (
        "exam",
        "periodic exam",
        "checkup",
        "check-up",
        "evaluation",
        "oral evaluation",
        "periodic evaluation",
        "periodic oral evaluation",
        "recall exam",
    ),
    "D0150": (
        "exam",
        "comprehensive exam",
        "new patient exam",
        "evaluation",
        "oral evaluation",
        "comprehensive evaluation",
        "comprehensive oral evaluation",
    ),
    "D0274": ("x-ray", "xray", "x ray", "bitewing", "radiograph"),
    "D1110": ("cleaning", "teeth cleaning", "prophylaxis", "prophy", "adult cleaning"),
    "D2391": ("filling", "composite", "composite filling", "white filling", "resin filling"),
    "D3330": ("root canal", "molar root canal", "endodontic treatment", "endodontic therapy"),
    "D4341": (
        "deep cleaning",
        "scaling",
        "root planing",
        "scaling and root planing",
        "srp",
        "periodontal scaling",
    ),
    "D7140": ("extraction", "tooth extraction", "simple extraction", "pulling a tooth"),
    "D2740": (
        "crown",
        "porcelain crown",
        "ceramic crown",
        "porcelain/ceramic crown",
        "all-ceramic crown",
        "zirconia crown",
    ),
    "D2750": (
        "crown",
        "pfm crown",
        "porcelain fused to metal",
        "porcelain fused to metal crown",
        "porcelain fused to high noble metal",
        "porcelain-fused-to-metal crown",
    ),
    "D6010": ("implant", "dental implant", "endosteal implant", "implant post"),
    "D8080": (
        "braces",
        "orthodontics",
        "orthodontic treatment",
        "comprehensive orthodontics",
        "comprehensive orthodontic treatment",
    ),
}


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Claims:
    """The operations of the claims contract over a world."""

    def __init__(self, world: World) -> None:
        self.world = world

    def handlers(self) -> dict[str, Handler]:
        return {
            "getMember": self.get_member,
            "checkEligibility": self.check_eligibility,
            "getBenefits": self.get_benefits,
            "listMemberClaims": self.list_member_claims,
            "getClaim": self.get_claim,
            "searchProviders": self.search_providers,
            "searchProcedures": self.search_procedures,
        }

    async def get_member(self, call: Call) -> Reply:
        self._provider(call)
        member = self._member(call)
        plan = self.world.plans[member.plan_id]
        return Reply(
            {
                "member_id": member.member_id,
                "first_name": member.first_name,
                "last_name": member.last_name,
                "date_of_birth": iso_date(member.date_of_birth),
                "plan_id": plan.plan_id,
                "plan_name": plan.name,
                "group_number": member.group_number,
                "coverage_start": iso_date(member.coverage_start),
                "coverage_end": iso_date(member.coverage_end) if member.coverage_end else None,
                "active": _active(member, self.world.today),
            }
        )

    async def check_eligibility(self, call: Call) -> Reply:
        self._provider(call)
        member = self._member(call)
        code = call.arg("procedure_code")
        procedure = PROCEDURES.get(code)
        if procedure is None:
            raise not_found("procedure code", code)
        service = parse_date(call.arg("date_of_service"))
        assert service is not None
        plan = self.world.plans[member.plan_id]
        klass = procedure.procedure_class
        percent = plan.coverage[klass]
        reasons = []
        if not _active(member, service):
            reasons.append(f"coverage is not active on {service}")
        waiting_ends = add_months(member.coverage_start, plan.waiting_months[klass])
        if plan.waiting_months[klass] and service < waiting_ends:
            reasons.append(f"{klass} services have a waiting period until {waiting_ends}")
        if percent == 0:
            reasons.append(f"{plan.name} does not cover {klass} services")
        deductible_left = max(plan.deductible_cents - member.deductible_met_cents, 0)
        maximum_left = max(plan.annual_maximum_cents - member.maximum_used_cents, 0)
        fee = procedure.typical_fee_cents
        applied = deductible_left if klass in DEDUCTIBLE_CLASSES else 0
        plan_pays = 0 if reasons else min((fee - min(applied, fee)) * percent // 100, maximum_left)
        return Reply(
            {
                "member_id": member.member_id,
                "procedure_code": code,
                "procedure_name": procedure.name,
                "procedure_class": klass,
                "date_of_service": iso_date(service),
                "eligible": not reasons,
                "reasons": reasons,
                "coverage_percent": percent,
                "waiting_period_ends": iso_date(waiting_ends)
                if plan.waiting_months[klass]
                else None,
                "frequency_limit": procedure.frequency,
                "prior_authorization_required": procedure.prior_authorization,
                "deductible_remaining_cents": deductible_left,
                "annual_maximum_remaining_cents": maximum_left,
                "estimated_fee_cents": fee,
                "estimated_plan_payment_cents": plan_pays,
                "estimated_patient_cents": fee - plan_pays,
            }
        )

    async def get_benefits(self, call: Call) -> Reply:
        self._provider(call)
        member = self._member(call)
        plan = self.world.plans[member.plan_id]
        return Reply(_benefits(member, plan))

    async def list_member_claims(self, call: Call) -> Reply:
        provider_id = self._provider(call)
        member = self._member(call)
        status = call.arg("status")
        claims = [
            c
            for c in self.world.claims_of(member.member_id)
            if provider_id in (None, c.provider_id) and (status is None or c.status == status)
        ]
        claims.sort(key=lambda c: c.submitted_at, reverse=True)
        return Reply({"claims": [_claim(c) for c in claims]})

    async def get_claim(self, call: Call) -> Reply:
        provider_id = self._provider(call)
        member_id: str | None = call.arg("member_id")
        claim_id = call.arg("claim_id")
        claim = self.world.claims.get(claim_id)
        if claim is None:
            raise not_found("claim", claim_id)
        if provider_id is None and member_id is None:
            raise Problem(
                403,
                "forbidden",
                f"claim {claim_id}: name the office that submitted it or its member",
            )
        if provider_id is not None and claim.provider_id != provider_id:
            raise Problem(
                403, "forbidden", f"claim {claim_id} was not submitted by provider {provider_id}"
            )
        if member_id is not None and claim.member_id != member_id:
            raise Problem(403, "forbidden", f"claim {claim_id} is not member {member_id}'s")
        return Reply(_claim(claim))

    async def search_providers(self, call: Call) -> Reply:
        plan_id, specialty = call.arg("plan_id"), call.arg("specialty")
        city, zip_code = call.arg("city"), call.arg("zip")
        accepting = call.arg("accepting_new_patients")
        found = []
        for provider in sorted(self.world.providers.values(), key=lambda p: p.provider_id):
            if plan_id and plan_id not in provider.networks:
                continue
            if specialty and provider.specialty != specialty:
                continue
            if city and provider.city.lower() != city.lower():
                continue
            if zip_code and provider.zip != zip_code:
                continue
            if accepting is not None and provider.accepting_new_patients != accepting:
                continue
            found.append(
                {
                    "provider_id": provider.provider_id,
                    "name": provider.name,
                    "specialty": provider.specialty,
                    "city": provider.city,
                    "state": provider.state,
                    "zip": provider.zip,
                    "phone": provider.phone,
                    "networks": list(provider.networks),
                    "accepting_new_patients": provider.accepting_new_patients,
                }
            )
            if len(found) == MAX_PROVIDERS:
                break
        return Reply({"providers": found})

    async def search_procedures(self, call: Call) -> Reply:
        found = [PROCEDURES[code] for code in _procedures_named(call.arg("q"))]
        return Reply(
            {
                "procedures": [
                    {
                        "procedure_code": p.code,
                        "procedure_name": p.name,
                        "procedure_class": p.procedure_class,
                        "frequency_limit": p.frequency,
                        "prior_authorization_required": p.prior_authorization,
                    }
                    for p in found
                ]
            }
        )

    def _provider(self, call: Call) -> str | None:
        """The calling office, checked; None when the member asks for themself."""
        provider_id: str | None = call.arg("provider_id")
        if provider_id is not None and provider_id not in self.world.providers:
            raise Problem(403, "unknown-provider", f"provider {provider_id} is not registered")
        return provider_id

    def _member(self, call: Call) -> Member:
        member_id = call.arg("member_id")
        member = self.world.members.get(member_id)
        if member is None:
            raise not_found("member", member_id)
        return member


def _words(text: str) -> str:
    """Lower-case words apart by single spaces, a plural's "s" dropped ("Crowns" -> "crown"), so
    names match as whole words whatever their case or number."""
    words = re.findall(r"[a-z0-9/-]+", text.lower())
    return " ".join(
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words
    )


def _procedures_named(query: str) -> list[str]:
    """The codes the query stands for, in code order: the code itself, or the procedures whose
    longest name in the query is the longest any procedure has there ("porcelain crown" is one
    crown, "crown" either)."""
    code = query.strip().upper()
    if code in PROCEDURES:
        return [code]
    said = f" {_words(query)} "
    longest: dict[str, int] = {}
    for code, procedure in PROCEDURES.items():
        names = (procedure.name, *PROCEDURE_NAMES.get(code, ()))
        sizes = [len(n) for name in names if (n := _words(name)) and f" {n} " in said]
        if sizes:
            longest[code] = max(sizes)
    best = max(longest.values(), default=0)
    return sorted(code for code, size in longest.items() if size == best)


def _active(member: Member, day: date) -> bool:
    return member.coverage_start <= day and (
        member.coverage_end is None or day <= member.coverage_end
    )


def _benefits(member: Member, plan: Plan) -> dict[str, Any]:
    return {
        "member_id": member.member_id,
        "plan_id": plan.plan_id,
        "plan_name": plan.name,
        "coverage": [
            {
                "procedure_class": klass,
                "coverage_percent": plan.coverage[klass],
                "waiting_months": plan.waiting_months[klass],
                "deductible_applies": klass in DEDUCTIBLE_CLASSES,
            }
            for klass in CLASSES
        ],
        "deductible_cents": plan.deductible_cents,
        "deductible_met_cents": min(member.deductible_met_cents, plan.deductible_cents),
        "annual_maximum_cents": plan.annual_maximum_cents,
        "annual_maximum_used_cents": member.maximum_used_cents,
        "annual_maximum_remaining_cents": max(
            plan.annual_maximum_cents - member.maximum_used_cents, 0
        ),
    }


def _claim(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": claim.claim_id,
        "member_id": claim.member_id,
        "provider_id": claim.provider_id,
        "status": claim.status,
        "date_of_service": iso_date(claim.date_of_service),
        "submitted_at": iso_datetime(claim.submitted_at),
        "expected_decision_by": iso_date(claim.expected_decision_by)
        if claim.expected_decision_by
        else None,
        "total_charged_cents": sum(line.charged_cents for line in claim.lines),
        "lines": [
            {
                "procedure_code": line.procedure_code,
                "procedure_name": PROCEDURES[line.procedure_code].name,
                "tooth": line.tooth,
                "charged_cents": line.charged_cents,
                "allowed_cents": line.allowed_cents,
                "paid_cents": line.paid_cents,
            }
            for line in claim.lines
        ],
        "history": [
            {"status": e.status, "at": iso_datetime(e.at), "note": e.note} for e in claim.history
        ],
    }


def create_app(
    world: World | None = None,
    faults: FaultConfig | None = None,
    validate_responses: bool = True,
) -> Starlette:
    """The claims backend over ``world`` (a fresh default world when omitted)."""
    claims = Claims(world or build_world())
    return build_app(
        "claims", Contract.load(CONTRACT), claims.handlers(), faults, validate_responses
    )
