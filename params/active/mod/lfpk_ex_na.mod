COMMENT
lfpk_ex_na: a transient sodium current of the active cells of params/hagen2022_active.py
(lfpk_hpc's example of a user's model; the kinetics of the tests' cell in
tests/data/active_cell, under another name).

    ina = gbar * m^3 * h * (v - ena)

with first-order gates m and h that relax to a Boltzmann curve with bell-shaped
time constants (rate forms written for lfpk_hpc; not fitted to any cell).
ENDCOMMENT

NEURON {
    SUFFIX lfpk_ex_na
    USEION na READ ena WRITE ina
    RANGE gbar
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.05 (S/cm2)
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    minf
    hinf
    mtau (ms)
    htau (ms)
}

STATE {
    m
    h
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gbar * m * m * m * h * (v - ena)
}

INITIAL {
    rates(v)
    m = minf
    h = hinf
}

DERIVATIVE states {
    rates(v)
    m' = (minf - m) / mtau
    h' = (hinf - h) / htau
}

PROCEDURE rates(v (mV)) {
    minf = 1 / (1 + exp(-(v + 38) / 6))
    hinf = 1 / (1 + exp((v + 62) / 6))
    mtau = 0.05 + 0.3 * exp(-((v + 40) / 20)^2)
    htau = 0.5 + 5 * exp(-((v + 60) / 15)^2)
}
