"""Plain-language marketing advice per segment, derived from its profile numbers.

``segment_advice`` turns a ``SegmentProfiles`` into one short text block per segment: a headline
(size and revenue share) and a few sentences that quote the segment's size, share of customers,
share of revenue, its typical (median) recency, frequency and spend compared with all customers
when those columns exist, and actions chosen by the segment's kind:

* RFM-named segments (``profiles.naming == "rfm"``) use the kind recorded by the naming rules
  (``analysis.segments.RFM_NAMES``): VIP / loyalty care for high-value loyal customers, cross-sell
  for regulars, a second-purchase nudge for recent one-time buyers, win-back for lapsed ones
  (generous for big spenders, low-cost for one-time and low-value), and so on.
* Generic (customer-level) segments are read through the column names: a column whose name
  suggests spend (spend, revenue, sales, amount, monetary, value, or the profile's monetary
  column), recency (days since, recency, last purchase), purchase volume (items, purchases,
  orders, frequency, visits, transactions) or satisfaction (rating, satisfaction, review, nps)
  and whose standardised segment mean is at least 0.5 from the overall mean drives the action;
  otherwise the advice points at the segment's most distinctive features.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from analysis.segments import SegmentProfiles, feature_label, feature_phrase, level_word

__all__ = ["segment_advice"]

_ACTIONS = {
    "high_value_loyal": (
        "Protect and reward them: a VIP or loyalty tier, early access to new products and personal "
        "thank-yous work better than blanket discounts they do not need. Ask them for reviews and referrals."
    ),
    "loyal": (
        "Grow their basket: cross-sell and bundles, loyalty points that unlock a higher tier, and "
        "replenishment or subscription reminders."
    ),
    "new_high_value": (
        "Their first order was large: follow up quickly with a personal welcome, useful onboarding "
        "content and a tailored recommendation to secure a second purchase before they cool off."
    ),
    "new": (
        "Nudge a second purchase: a welcome series, a time-limited incentive on the next order and "
        "recommendations based on what they bought first."
    ),
    "promising_high_value": (
        "Turn them into regulars: personalised recommendations, reminders timed to their buying "
        "cycle and an invitation to the loyalty programme."
    ),
    "promising": (
        "Build the habit: recommendations, reminders timed to their buying cycle and a small "
        "loyalty incentive for the next order."
    ),
    "cooling_high_value": (
        "Act before they lapse: personal outreach, a satisfaction check-in and an exclusive offer; "
        "watch whether they buy again in the next few weeks."
    ),
    "cooling_regular": (
        "Re-engage them with reminders, relevant new products and a small incentive to get back to "
        "their usual rhythm."
    ),
    "cooling_one_time": (
        "Send a second-purchase offer now: the longer they wait, the more expensive winning them back gets."
    ),
    "needs_attention": (
        "Revive their interest with limited-time offers and personalised recommendations "
        "before they drift away."
    ),
    "lapsed_high_value": (
        "Win-back is worth real effort here: personal outreach, a generous comeback offer and a short "
        "survey asking why they stopped buying."
    ),
    "lapsed_regular": (
        "Run a win-back campaign that reminds them of what they used to buy, with a comeback incentive."
    ),
    "lapsed_one_time": (
        "Keep win-back cheap: one automated reactivation message with an offer, then stop paid "
        "targeting for those who do not respond."
    ),
    "lapsed_low_value": (
        "Use only low-cost reactivation (email, not paid media) and do not overspend on them; "
        "learn from their drop-off what to fix for newer customers."
    ),
    "lapsed_occasional": (
        "Try a low-cost win-back campaign with a comeback offer and measure who returns before spending more."
    ),
}

_SPEND = re.compile(r"spend|revenue|sales|amount|monetary|value|total|\bpaid", re.I)
_RECENCY = re.compile(r"days?[ _]?since|recency|last[ _]?(purchase|order|visit)|inactive", re.I)
_VOLUME = re.compile(r"items|purchases|orders|frequency|visits|transactions|quantity", re.I)
_SATISFACTION = re.compile(r"rating|satisfaction|review|nps|score", re.I)


def _money(value: float, currency: str) -> str:
    text = f"{value:,.2f}"
    if not currency:
        return text
    if len(currency) <= 1 or not currency.isalpha():
        return f"{currency}{text}" if value >= 0 else f"-{currency}{text[1:]}"
    return f"{text} {currency}"


def _num(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if float(value).is_integer():
        return f"{value:,.0f}"
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".")


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _generic_action(z: pd.Series, monetary_col: str | None, recency_col: str | None) -> str:
    """Action text for a feature-described segment, from standardised means (see module docstring)."""

    claimed: set = set()
    volume_col = None

    def strongest(pattern: re.Pattern, extra: str | None = None) -> tuple[float | None, str | None]:
        # each column plays at most one role (recency, spend, satisfaction, volume: in that order)
        cols = [
            c
            for c in z.index
            if c not in claimed and ((extra is not None and c == extra) or pattern.search(str(c)))
        ]
        claimed.update(cols)
        if not cols:
            return None, None
        vals = z[cols]
        col = vals.abs().round(9).sort_values(ascending=False, kind="stable").index[0]
        return float(vals[col]), col

    recency, _ = strongest(_RECENCY, recency_col)
    spend, _ = strongest(_SPEND, monetary_col)
    satisfaction, _ = strongest(_SATISFACTION)
    volume, volume_col = strongest(_VOLUME)
    high_spend = spend is not None and spend >= 0.5
    low_spend = spend is not None and spend <= -0.5
    lapsing = recency is not None and recency >= 0.5
    recent = recency is not None and recency <= -0.5
    actions = []
    if high_spend and lapsing:
        actions.append(
            "They spend well above average but have not bought for a while: "
            "a personal win-back offer is worth it."
        )
    elif high_spend:
        actions.append(
            "They are among your best spenders: reward them with VIP perks, early access and loyalty "
            "benefits rather than discounts."
        )
    elif low_spend and lapsing:
        actions.append("Low spend and drifting away: keep reactivation cheap (email, automated offers).")
    elif low_spend:
        actions.append(
            "Their spend is below average: try bundles, cross-sell and free-shipping thresholds "
            "to lift basket size."
        )
    elif lapsing:
        actions.append("They have not bought for a while: run a win-back campaign with a comeback offer.")
    if recent and not high_spend:
        actions.append(
            "They bought recently, so follow-up recommendations should land while interest is fresh."
        )
    if volume is not None and volume >= 0.5 and not high_spend:
        actions.append(
            f"They are above average on {feature_label(volume_col)}: "
            "loyalty points or volume rewards suit them."
        )
    elif volume is not None and volume <= -0.5 and not low_spend:
        actions.append(
            f"They are below average on {feature_label(volume_col)}: recommend complementary products "
            "and remind them to come back."
        )
    if satisfaction is not None and satisfaction <= -0.5:
        actions.append(
            "Their satisfaction is below average: ask for feedback and fix service issues "
            "before pushing offers."
        )
    elif satisfaction is not None and satisfaction >= 0.5:
        actions.append("They are happy customers: invite reviews and referrals.")
    if not actions:
        top = z.abs().round(9).sort_values(ascending=False, kind="stable").index[:2]
        traits = " and ".join(feature_phrase(c, level_word(float(z[c])), recency_col) for c in top)
        actions.append(
            f"Tailor messages to what sets them apart ({traits}) and test one offer against a hold-out group."
        )
    return " ".join(actions)


def segment_advice(profiles: SegmentProfiles, *, currency: str = "") -> dict[int, dict]:
    """Advice per segment.

    ``profiles``: the result of ``profile_segments``; ``currency``: a symbol ("£", "$") placed
    before amounts or a code ("EUR") placed after them; empty for plain numbers.

    Returns ``{segment: {"name": str, "headline": str, "advice": str, "kind": str}}``, where the
    headline quotes size and shares and the advice is a few sentences: size and share of
    customers, share of revenue (percent, one decimal, as in the headline), the typical (median)
    recency in days, orders and spend against all customers when those columns exist (or the
    most distinctive other features (their means against the overall means, since those drive the
    names), then tailored actions. Plain Python types only.
    """
    table = profiles.table.set_index("segment")
    overall = profiles.overall
    rc, fc, mc = profiles.recency_col, profiles.frequency_col, profiles.monetary_col
    out: dict[int, dict] = {}
    for seg, row in table.iterrows():
        seg = int(seg)
        name = profiles.names[seg]
        kind = profiles.kinds.get(seg, "generic")
        size = int(row["size"])
        cshare = float(row["customer_share"])
        rshare = row["revenue_share"]
        has_rev = _finite(rshare)
        headline = f"{name}: {size:,} customers ({_pct(cshare)} of customers)"
        if has_rev:
            headline += f", {_pct(float(rshare))} of revenue"

        sentences = []
        first = f"{name} is {size:,} customer{'s' if size != 1 else ''}, {_pct(cshare)} of the customer base"
        if has_rev:
            rshare = float(rshare)
            first += f", bringing {_pct(rshare)} of revenue ({_money(float(row['revenue']), currency)})"
            ratio = rshare / cshare if cshare > 0 else math.nan
            if math.isfinite(ratio) and ratio >= 1.5:
                first += f": each customer is worth {ratio:.1f}x an average customer"
            elif math.isfinite(ratio) and ratio <= 0.67:
                first += ": below their weight in revenue"
        sentences.append(first + ".")

        typical = []
        if rc:
            typical.append(
                f"last ordered {_num(row[f'median_{rc}'])} days ago (all customers: "
                f"{_num(overall.at[rc, 'median'])})"
            )
        if fc:
            orders = float(row[f"median_{fc}"])
            typical.append(
                f"placed {_num(orders)} order{'' if orders == 1 else 's'} "
                f"(all customers: {_num(overall.at[fc, 'median'])})"
            )
        if mc:
            typical.append(
                f"spent {_money(float(row[f'median_{mc}']), currency)} (all customers: "
                f"{_money(float(overall.at[mc, 'median']), currency)})"
            )
        if typical:
            sentences.append("The typical customer here " + _join(typical) + ".")
        z = profiles.standardised.loc[seg]
        ranked = z.abs().round(9).sort_values(ascending=False, kind="stable").index
        others = [c for c in ranked if c not in (rc, fc, mc)]
        others = [c for c in others if abs(float(z[c])) >= 0.2][: (2 if typical else 3)]
        if others:
            parts = []
            for c in others:
                parts.append(
                    f"{feature_phrase(c, level_word(float(z[c])), rc)} (average {_num(row[f'mean_{c}'])} "
                    f"vs {_num(overall.at[c, 'mean'])} overall)"
                )
            lead = "They also stand out for " if typical else "Compared with all customers they have "
            sentences.append(lead + _join(parts) + ".")

        if kind in _ACTIONS:
            sentences.append(_ACTIONS[kind])
        else:
            sentences.append(_generic_action(z, mc, rc))
        out[seg] = {
            "name": name,
            "headline": headline,
            "advice": " ".join(sentences),
            "kind": kind,
        }
    return out


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
