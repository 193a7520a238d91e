COMMENT
lfpk_qa: quasi-active (linearised) voltage-gated currents (lfpk_hpc).

Around a linearisation point v*, an ionic current I = g(x1, x2, x3)·(v − E) with
gates x_j that relax to x_j∞(v) with time constants tau_j(v) becomes, to first
order in the deviations,

    δI = g*·(v − v*) + Σ_j a_j·y_j,     dy_j/dt = (b_j·(v − v*) − y_j) / tau_j

with g* the chord conductance at v* (the section's pas g_pas, not this
mechanism), a_j = ∂I/∂x_j at v* (mA/cm2), b_j = dx_j∞/dv at v* (1/mV) and
tau_j = tau_j(v*) (ms); the terms in dtau_j/dv vanish at steady state.
This mechanism is the Σ_j a_j·y_j part, for up to three gates (unused gates:
a_j = 0). At v = v* with y_j = 0 it carries no current, so a cell initialised
at v* stays at rest until it is driven.

Used by the kernel engine for the soma of a cell whose ground truth has an
active (Hodgkin-Huxley) soma: ``validate`` computes a, b and tau from NEURON's
hh rate functions at the median somatic potential.
ENDCOMMENT

NEURON {
    SUFFIX lfpk_qa
    NONSPECIFIC_CURRENT i
    RANGE vstar, a1, a2, a3, b1, b2, b3, tau1, tau2, tau3
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
}

PARAMETER {
    vstar = -65 (mV)
    a1 = 0 (mA/cm2)
    a2 = 0 (mA/cm2)
    a3 = 0 (mA/cm2)
    b1 = 0 (/mV)
    b2 = 0 (/mV)
    b3 = 0 (/mV)
    tau1 = 1 (ms)
    tau2 = 1 (ms)
    tau3 = 1 (ms)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

STATE {
    y1
    y2
    y3
}

INITIAL {
    y1 = b1 * (v - vstar)
    y2 = b2 * (v - vstar)
    y3 = b3 * (v - vstar)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = a1 * y1 + a2 * y2 + a3 * y3
}

DERIVATIVE states {
    y1' = (b1 * (v - vstar) - y1) / tau1
    y2' = (b2 * (v - vstar) - y2) / tau2
    y3' = (b3 * (v - vstar) - y3) / tau3
}
