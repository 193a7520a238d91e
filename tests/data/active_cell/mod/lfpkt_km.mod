COMMENT
lfpkt_km: a slow (M-type) potassium current of the tests' active cells and of the
benchmark's detailed active cell (lfpk_hpc tests; rate forms of these models only).

    ik = gbar * w * (v - ek)

with one first-order gate w (Boltzmann steady state, time constant of 50-200 ms).
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_km
    USEION k READ ek WRITE ik
    RANGE gbar
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-3 (S/cm2)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    winf
    wtau (ms)
}

STATE {
    w
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * w * (v - ek)
}

INITIAL {
    rates(v)
    w = winf
}

DERIVATIVE states {
    rates(v)
    w' = (winf - w) / wtau
}

PROCEDURE rates(v (mV)) {
    winf = 1 / (1 + exp(-(v + 35) / 10))
    wtau = 50 + 150 * exp(-((v + 40) / 25)^2)
}
