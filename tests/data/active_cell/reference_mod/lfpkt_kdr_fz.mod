COMMENT
lfpkt_kdr_fz: a hand-frozen copy of ../mod/lfpkt_kdr.mod for the tests' reference
kernels only: the gate n is a parameter, set per segment to its value at rest.

    ik = gbar * n^4 * (v - ek)
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_kdr_fz
    USEION k READ ek WRITE ik
    RANGE gbar, n
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.02 (S/cm2)
    n = 0
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
}

BREAKPOINT {
    ik = gbar * n * n * n * n * (v - ek)
}
