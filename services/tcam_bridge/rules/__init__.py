"""The safety rules. ``default_rules()`` is the set the pipeline runs, transfer-of-care first.

Each rule is a small module named after its id, with its clinical intent in the module
docstring, and spec tests in ``tests/unit/rules/test_<id>.py``. The catalogue clinicians review
(``contracts/rule-catalogue.md``) is generated from these modules and their spec tests.
"""

from __future__ import annotations

from tcam_bridge.core.rule import Rule
from tcam_bridge.rules.as_p3g import AsthmaNonSelectiveBetaBlocker
from tcam_bridge.rules.gi_p3a import NsaidElderlyNoGastroprotection
from tcam_bridge.rules.gi_p3b import NsaidUlcerHistoryNoGastroprotection
from tcam_bridge.rules.gi_p3c import AntiplateletUlcerHistoryNoGastroprotection
from tcam_bridge.rules.gi_p3d import AnticoagulantWithNsaid
from tcam_bridge.rules.gi_p3e import AnticoagulantWithAntiplateletNoGastroprotection
from tcam_bridge.rules.gi_p3f import AspirinWithAntiplateletNoGastroprotection
from tcam_bridge.rules.hf_p3i import HeartFailureNsaid
from tcam_bridge.rules.ki_p3k import LowEgfrNsaid
from tcam_bridge.rules.mo_p13 import ElderlyAceiOrLoopDiureticNoRenalMonitoring
from tcam_bridge.rules.mo_p15 import MethotrexateNoBloodMonitoring
from tcam_bridge.rules.mo_p17 import LithiumNoLevel
from tcam_bridge.rules.mo_p18 import AmiodaroneNoThyroidTest
from tcam_bridge.rules.tcam_acei_arb import DualRasBlockade
from tcam_bridge.rules.tcam_amio_high_dose import AmiodaroneHighDose
from tcam_bridge.rules.tcam_dup_anticoag import DuplicateAnticoagulants
from tcam_bridge.rules.tcam_dup_class import TherapeuticDuplication
from tcam_bridge.rules.tcam_mtx_not_weekly import MethotrexateNotWeekly
from tcam_bridge.rules.tcam_new_inhalers import NewInhalers
from tcam_bridge.rules.tcam_stopped_high_risk import StoppedHighRiskMedicine


def default_rules() -> tuple[Rule, ...]:
    return (
        DuplicateAnticoagulants(),
        StoppedHighRiskMedicine(),
        TherapeuticDuplication(),
        DualRasBlockade(),
        MethotrexateNotWeekly(),
        AmiodaroneHighDose(),
        NewInhalers(),
        NsaidElderlyNoGastroprotection(),
        NsaidUlcerHistoryNoGastroprotection(),
        AntiplateletUlcerHistoryNoGastroprotection(),
        AnticoagulantWithNsaid(),
        AnticoagulantWithAntiplateletNoGastroprotection(),
        AspirinWithAntiplateletNoGastroprotection(),
        AsthmaNonSelectiveBetaBlocker(),
        HeartFailureNsaid(),
        LowEgfrNsaid(),
        ElderlyAceiOrLoopDiureticNoRenalMonitoring(),
        MethotrexateNoBloodMonitoring(),
        LithiumNoLevel(),
        AmiodaroneNoThyroidTest(),
    )
