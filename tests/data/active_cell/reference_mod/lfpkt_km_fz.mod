COMMENT
lfpkt_km_fz: a hand-frozen copy of ../mod/lfpkt_km.mod for the reference kernels of
the tests and benchmarks only: the gate w is a parameter, set per segment to its
value at rest.

    ik = gbar * w * (v - ek)
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_km_fz
    USEION k READ ek WRITE ik
    RANGE gbar, w
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-3 (S/cm2)
    w = 0
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
}

BREAKPOINT {
    ik = gbar * w * (v - ek)
}
