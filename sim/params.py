"""Every physical parameter of the simulated RRAM crossbar, in one documented dataclass.

Defaults describe a TaOx/HfOx-like 1T1R array whose usable multilevel window is about
0.5-35 uS, as in the chip of Zuo et al., Nature Electronics 8, 1222 (2025). Each field
names its unit and, in the comment beside it, its source:

- [PKU25]   Zuo et al., Nature Electronics 2025 (doi:10.1038/s41928-025-01477-0).
- [NeuRRAM] Wan et al., Nature 2022 (HfOx, g_max = 40 uS programming spread/relaxation).
- [aihwkit] IBM aihwkit ReRAM fits of Gong et al. 2018 (HfO2).
- [SPKU]    Stanford-PKU compact model, I = I0 exp(-gap/g0) sinh(V/V0).
- [Lanza19] Lanza et al. 2019 benchmarking of RRAM.
- [typ]     a typical range from REFERENCE.md section 2 (not a single measurement).
- [assume]  a modelling assumption chosen to sit inside the typical ranges; change it
            freely.

Conventions of the model (see ``docs/crossbar-model.md``):

- A cell's state is its conductance ``g`` in siemens *as a read at* ``v_read_ref_V``
  *would measure it* (I / V at that voltage, without noise). The I-V curve is
  ``I(V) = g * v_read_ref_V * sinh(V / iv_v0_V) / sinh(v_read_ref_V / iv_v0_V)``.
- Positive cell voltage (row/top electrode above column/bottom) forms and SETs;
  negative voltage RESETs.
- Switching thresholds are DC values, defined for a dwell of ``t_ref_s``. A shorter
  pulse needs ``v_kinetic_V * ln(t_ref_s / width_s)`` more volts (voltage-time dilemma):
  with the defaults about 0.09 V per decade, so a 100 ns pulse needs ~0.37 V more than
  a DC sweep.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

BOLTZMANN_eV_per_K = 8.617333262e-5


@dataclass(frozen=True)
class CrossbarParams:
    """Device, circuit and variation parameters of a simulated crossbar. SI units."""

    # --- I-V shape -------------------------------------------------------------------
    v_read_ref_V: float = 0.2  # [typ] read 0.1-0.2 V; g is defined as I/V at this voltage
    iv_v0_V: float = 0.5  # [assume] sinh(V/V0) conduction as in [SPKU], whose fitted
    # V0 = 0.25 V would make pristine and LRS cells carry mA at forming/SET voltages in
    # this one-variable model; 0.5 V gives ~0.1 uA pristine leakage at 3 V, reads linear
    # to 2% over 0.1-0.2 V, and a visibly superlinear HRS branch in I-V loops

    # --- conductance bounds (device-to-device spread is log-normal) --------------------
    g_pristine_S: float = 1e-9  # [assume] pristine (unformed) cells conduct ~nS
    g_pristine_sigma_log: float = 0.5  # [assume] d2d spread of pristine leakage (ln units)
    g_floor_S: float = 0.2e-6  # [PKU25] deepest RESET, below the 0.5 uS lowest level
    g_floor_sigma_log: float = 0.2  # [assume] d2d spread of the floor (ln units)
    g_ceiling_S: float = 250e-6  # [typ] filament limit, LRS 4 kohm (LRS 5-20 kohm typical)
    g_ceiling_sigma_log: float = 0.1  # [assume] d2d spread of the ceiling (ln units)

    # --- switching kinetics (voltage-time dilemma) -------------------------------------
    t_ref_s: float = 1e-3  # [assume] thresholds below are for a 1 ms DC dwell
    v_kinetic_V: float = 0.04  # [assume] 0.09 V/decade: 100 ns SETs need ~0.37 V more
    # than DC, a 300 ps switch ~0.6 V more [Lanza19], and a 0.2 V read needs ~1e5 s of
    # continuous bias to SET (read disturb after ~1e11 1-us reads)
    kinetic_sigma_log: float = 0.4  # [aihwkit] d2d step-size spread 20-70% (ln units)

    # --- electroforming ------------------------------------------------------------------
    v_form_V: float = 3.0  # [typ] forming 2.5-3.5 V
    v_form_sigma_V: float = 0.15  # [typ] d2d spread that covers 2.5-3.5 V at +-3 sigma
    i_hard_breakdown_A: float = 1e-3  # [assume] forming current above this overgrows the
    # filament into a permanent short (stuck high): what a missing compliance does
    g_breakdown_S: float = 1e-3  # [assume] conductance of such a short (1 kohm)

    # --- SET (abrupt, compliance limited) ------------------------------------------------
    v_set_V: float = 1.0  # [typ] SET 0.8-1.5 V
    v_set_sigma_V: float = 0.08  # [assume] d2d spread of the SET threshold
    v_set_compliance_V: float = 1.0  # [typ] g_LRS = I_cc / 1 V: 50-200 uA -> 20-5 kohm

    # --- RESET (gradual, deepens with amplitude and width) -------------------------------
    v_reset_V: float = 1.0  # [typ] RESET -1.0 to -1.8 V (magnitude)
    v_reset_sigma_V: float = 0.08  # [assume] d2d spread of the RESET threshold
    v_reset_depth_V: float = 0.1  # [assume] each 0.1 V of overdrive lowers the reachable
    # conductance e-fold: from the ceiling to the floor over ~0.7 V (-1.0 to -1.7 V DC)
    reset_rate: float = 0.3  # [assume] RESET progress per pulse at the depth for its
    # amplitude: identical pulses then take ~30-50% of the remaining way each (gradual)

    # --- cycle-to-cycle variation (log-normal, per switching event) ---------------------
    c2c_sigma_hrs: float = 0.3  # [typ] HRS cycle-to-cycle 20-50%
    c2c_sigma_lrs: float = 0.07  # [typ] LRS cycle-to-cycle 5-10%
    c2c_g_hrs_S: float = 1e-6  # [assume] below this conductance the HRS spread applies
    c2c_g_lrs_S: float = 100e-6  # [assume] above this conductance the LRS spread applies

    # --- read noise (every read) ----------------------------------------------------------
    read_noise_rel: float = 0.01  # [NeuRRAM] ~1% short-term read noise at high G
    read_noise_knee_S: float = 8e-6  # [typ] read noise 1-5%, worse at low G: relative noise
    # is rel * (1 + sqrt(knee / g)): 1.5% at 35 uS, 2% at 8 uS, 5% at 0.5 uS
    read_noise_max_rel: float = 0.3  # [assume] cap for nearly insulating (pristine) cells

    # --- relaxation right after programming --------------------------------------------
    relax_sigma_day_S: float = 3e-6  # [NeuRRAM] spread grows to 2.5-3.9 uS after a day
    relax_g_scale_S: float = 40e-6  # [NeuRRAM] g_max of that measurement; widest mid-range
    relax_tau_s: float = 1.0  # [assume] variance grows as ln(1 + t / tau)

    # --- retention drift (log-conductance decays) ----------------------------------------
    drift_nu: float = 0.005  # [assume] ln g falls by nu per e-fold of time: ~12% after
    drift_nu_sigma: float = 0.003  # 10 years at 85 C, inside [Lanza19] ">10 years at 85 C"
    drift_tau_s: float = 1.0  # [assume] drift starts after ~1 s
    temperature_K: float = 300.0  # ambient temperature of the array
    t_ref_K: float = 300.0  # temperature at which relaxation and drift rates are given
    activation_energy_eV: float = 1.0  # [assume] Arrhenius acceleration of aging

    # --- defective cells (fractions of all cells, sampled once) -------------------------
    frac_stuck_low: float = 0.005  # [assume] [aihwkit] saw ~10% corrupt in one baseline;
    frac_stuck_high: float = 0.002  # [PKU25] programmed 100% of 400 cells: defaults are
    frac_unformable: float = 0.003  # ~1% in total
    g_stuck_low_S: float = 0.1e-6  # [assume] stuck cells sit outside the usable window
    g_stuck_high_S: float = 150e-6  # [assume]

    # --- endurance -----------------------------------------------------------------------
    endurance_cycles: float = 1e10  # [Lanza19] TaOx endurance 1e10-1e12
    endurance_sigma_log10: float = 0.5  # [assume] d2d spread of lifetime (decades)
    endurance_window_loss: float = 0.5  # [assume] fraction of the ln-window lost at end of
    # life, after which the cell fails stuck

    # --- access transistor (1T1R) ----------------------------------------------------------
    transistor_vth_V: float = 0.5  # [assume] I_sat = k/2 (Vg - Vth)^2 gives the
    transistor_k_A_per_V2: float = 200e-6  # [typ] 50-200 uA compliance at Vg 1.2-1.9 V
    v_gate_on_V: float = 3.3  # [assume] gate voltage when a word line is fully on

    # --- wires and peripheral circuits -----------------------------------------------------
    r_wire_ohm: float = 0.0  # [PKU25] measured 1.73 ohm/segment; 0 = ideal wires (fast)
    r_driver_ohm: float = 0.0  # [assume] row driver output resistance (0 = ideal)
    r_tia_ohm: float = 0.0  # [assume] column TIA input resistance (0 = ideal)

    # --- INV circuit op-amps -------------------------------------------------------------
    opamp_gbw_Hz: float = 16e6  # [PKU25] 16 MHz gain-bandwidth product
    opamp_gain: float = 1e5  # [assume] typical DC open-loop gain (100 dB)
    opamp_clamp_V: float = 0.4  # [PKU25] outputs clamped to +-0.4 V
    opamp_offset_sigma_V: float = 0.2e-3  # [assume] input offset of precision op-amps

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"CrossbarParams.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"CrossbarParams.{f.name} must be finite, got {value!r}")
            if value < 0:
                raise ValueError(f"CrossbarParams.{f.name} must be >= 0, got {value!r}")
        _require_positive(
            self,
            "v_read_ref_V",
            "iv_v0_V",
            "g_pristine_S",
            "g_floor_S",
            "g_ceiling_S",
            "t_ref_s",
            "v_kinetic_V",
            "v_form_V",
            "v_set_V",
            "v_set_compliance_V",
            "v_reset_V",
            "v_reset_depth_V",
            "c2c_g_hrs_S",
            "c2c_g_lrs_S",
            "read_noise_knee_S",
            "relax_g_scale_S",
            "relax_tau_s",
            "drift_tau_s",
            "temperature_K",
            "t_ref_K",
            "endurance_cycles",
            "transistor_k_A_per_V2",
            "opamp_gbw_Hz",
            "opamp_gain",
            "opamp_clamp_V",
            "g_stuck_low_S",
            "g_stuck_high_S",
            "g_breakdown_S",
        )
        if not self.g_pristine_S < self.g_floor_S < self.g_ceiling_S:
            raise ValueError(
                "CrossbarParams needs g_pristine_S < g_floor_S < g_ceiling_S, got "
                f"{self.g_pristine_S!r}, {self.g_floor_S!r}, {self.g_ceiling_S!r}"
            )
        if not self.c2c_g_hrs_S < self.c2c_g_lrs_S:
            raise ValueError("CrossbarParams needs c2c_g_hrs_S < c2c_g_lrs_S")
        stuck = self.frac_stuck_low + self.frac_stuck_high + self.frac_unformable
        if stuck > 1:
            raise ValueError(
                "CrossbarParams.frac_stuck_low + frac_stuck_high + frac_unformable "
                f"must not exceed 1, got {stuck!r}"
            )
        if self.endurance_window_loss >= 1:
            raise ValueError("CrossbarParams.endurance_window_loss must be < 1")

    def replace(self, **changes: Any) -> CrossbarParams:
        """A copy with some fields changed; an unknown name raises ``TypeError`` naming it."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(
                f"unknown CrossbarParams field(s) {', '.join(unknown)}; "
                f"known fields: {', '.join(sorted(known))}"
            )
        return dataclasses.replace(self, **changes)

    @classmethod
    def ideal(cls, **changes: Any) -> CrossbarParams:
        """Parameters with every random non-ideality off: no device-to-device or
        cycle-to-cycle spread, no read noise, relaxation, drift, defects, wear or op-amp
        offset. The physics (thresholds, compliance, sinh I-V) stays."""
        quiet = dict(
            g_pristine_sigma_log=0.0,
            g_floor_sigma_log=0.0,
            g_ceiling_sigma_log=0.0,
            kinetic_sigma_log=0.0,
            v_form_sigma_V=0.0,
            v_set_sigma_V=0.0,
            v_reset_sigma_V=0.0,
            c2c_sigma_hrs=0.0,
            c2c_sigma_lrs=0.0,
            read_noise_rel=0.0,
            relax_sigma_day_S=0.0,
            drift_nu=0.0,
            drift_nu_sigma=0.0,
            frac_stuck_low=0.0,
            frac_stuck_high=0.0,
            frac_unformable=0.0,
            endurance_sigma_log10=0.0,
            opamp_offset_sigma_V=0.0,
        )
        quiet.update(changes)
        return cls().replace(**quiet)

    def aging_acceleration(self) -> float:
        """Arrhenius factor by which relaxation and drift run faster at ``temperature_K``
        than at ``t_ref_K`` (dimensionless)."""
        ea_over_k = self.activation_energy_eV / BOLTZMANN_eV_per_K
        return math.exp(ea_over_k * (1.0 / self.t_ref_K - 1.0 / self.temperature_K))


def _require_positive(params: CrossbarParams, *names: str) -> None:
    for name in names:
        if getattr(params, name) <= 0:
            raise ValueError(f"CrossbarParams.{name} must be > 0, got {getattr(params, name)!r}")
