COMMENT
lfpk_gates: the quasi-active (linearised) gates of a user's active model (lfpk_hpc).

Around rest v*, a membrane current of gates x_k that relax to x_k∞(v) with time
constants tau_k(v) changes, to first order, by

    δI = g·(v − v*) + Σ_k w_k,     tau_k dw_k/dt = c_k·(v − v*) − w_k

with g the frozen conductance (the section's pas, not this mechanism) and, for
gate k, c_k = (∂I/∂x_k)·(dx_k∞/dv) (S/cm2) and tau_k = tau_k(v*) (ms), both at
rest (the terms in dtau_k/dv vanish there). This mechanism is the Σ_k w_k part,
for up to 16 gates per segment (unused: c_k = 0). At v = v* with w_k = 0 it
carries no current, so a cell initialised at rest stays there until it is driven.
The states are numbered w01 ... w16 (nocmodl's cnexp rejects a state w10 beside
a state w1).
lfpk_hpc.linearise reads c_k and tau_k of every segment from NEURON's equations of
the user's model. (mod/lfpk_qa.mod is the three-gate form that validate's
hh-soma stand-in uses.)
ENDCOMMENT

NEURON {
    SUFFIX lfpk_gates
    NONSPECIFIC_CURRENT i
    RANGE vstar, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16
    RANGE tau1, tau2, tau3, tau4, tau5, tau6, tau7, tau8, tau9, tau10, tau11, tau12, tau13, tau14, tau15, tau16
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    vstar = -65 (mV)
    c1 = 0 (S/cm2)
    c2 = 0 (S/cm2)
    c3 = 0 (S/cm2)
    c4 = 0 (S/cm2)
    c5 = 0 (S/cm2)
    c6 = 0 (S/cm2)
    c7 = 0 (S/cm2)
    c8 = 0 (S/cm2)
    c9 = 0 (S/cm2)
    c10 = 0 (S/cm2)
    c11 = 0 (S/cm2)
    c12 = 0 (S/cm2)
    c13 = 0 (S/cm2)
    c14 = 0 (S/cm2)
    c15 = 0 (S/cm2)
    c16 = 0 (S/cm2)
    tau1 = 1 (ms)
    tau2 = 1 (ms)
    tau3 = 1 (ms)
    tau4 = 1 (ms)
    tau5 = 1 (ms)
    tau6 = 1 (ms)
    tau7 = 1 (ms)
    tau8 = 1 (ms)
    tau9 = 1 (ms)
    tau10 = 1 (ms)
    tau11 = 1 (ms)
    tau12 = 1 (ms)
    tau13 = 1 (ms)
    tau14 = 1 (ms)
    tau15 = 1 (ms)
    tau16 = 1 (ms)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

STATE {
    w01 (mA/cm2)
    w02 (mA/cm2)
    w03 (mA/cm2)
    w04 (mA/cm2)
    w05 (mA/cm2)
    w06 (mA/cm2)
    w07 (mA/cm2)
    w08 (mA/cm2)
    w09 (mA/cm2)
    w10 (mA/cm2)
    w11 (mA/cm2)
    w12 (mA/cm2)
    w13 (mA/cm2)
    w14 (mA/cm2)
    w15 (mA/cm2)
    w16 (mA/cm2)
}

INITIAL {
    w01 = c1 * (v - vstar)
    w02 = c2 * (v - vstar)
    w03 = c3 * (v - vstar)
    w04 = c4 * (v - vstar)
    w05 = c5 * (v - vstar)
    w06 = c6 * (v - vstar)
    w07 = c7 * (v - vstar)
    w08 = c8 * (v - vstar)
    w09 = c9 * (v - vstar)
    w10 = c10 * (v - vstar)
    w11 = c11 * (v - vstar)
    w12 = c12 * (v - vstar)
    w13 = c13 * (v - vstar)
    w14 = c14 * (v - vstar)
    w15 = c15 * (v - vstar)
    w16 = c16 * (v - vstar)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = w01 + w02 + w03 + w04 + w05 + w06 + w07 + w08 + w09 + w10 + w11 + w12 + w13 + w14 + w15 + w16
}

DERIVATIVE states {
    w01' = (c1 * (v - vstar) - w01) / tau1
    w02' = (c2 * (v - vstar) - w02) / tau2
    w03' = (c3 * (v - vstar) - w03) / tau3
    w04' = (c4 * (v - vstar) - w04) / tau4
    w05' = (c5 * (v - vstar) - w05) / tau5
    w06' = (c6 * (v - vstar) - w06) / tau6
    w07' = (c7 * (v - vstar) - w07) / tau7
    w08' = (c8 * (v - vstar) - w08) / tau8
    w09' = (c9 * (v - vstar) - w09) / tau9
    w10' = (c10 * (v - vstar) - w10) / tau10
    w11' = (c11 * (v - vstar) - w11) / tau11
    w12' = (c12 * (v - vstar) - w12) / tau12
    w13' = (c13 * (v - vstar) - w13) / tau13
    w14' = (c14 * (v - vstar) - w14) / tau14
    w15' = (c15 * (v - vstar) - w15) / tau15
    w16' = (c16 * (v - vstar) - w16) / tau16
}
