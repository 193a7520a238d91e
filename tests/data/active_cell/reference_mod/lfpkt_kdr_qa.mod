COMMENT
lfpkt_kdr_qa: a hand-written quasi-active copy of ../mod/lfpkt_kdr.mod for the tests'
reference kernels only. Around rest (vstar, n*):

    ik = gbar n*^4 (v - ek) + gbar 4 n*^3 (vstar - ek) dn,   dn' = (bn (v - vstar) - dn) / taun
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_kdr_qa
    USEION k READ ek WRITE ik
    RANGE gbar, nstar, vstar, bn, taun
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.02 (S/cm2)
    nstar = 0
    vstar = -65 (mV)
    bn = 0 (/mV)
    taun = 1 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
}

STATE {
    dn
}

INITIAL {
    dn = bn * (v - vstar)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * nstar * nstar * nstar * nstar * (v - ek) + gbar * 4 * nstar * nstar * nstar * (vstar - ek) * dn
}

DERIVATIVE states {
    dn' = (bn * (v - vstar) - dn) / taun
}
