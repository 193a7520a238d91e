COMMENT
Exp2SynI: current-based synapse with a two-exponential time course (lfpk_hpc).

An event of weight w (nA) adds w*factor to both state variables; the current is

    i(t) = B - A = -w * factor * (exp(-t/tau2) - exp(-t/tau1))     (nA)

with factor = 1 / (exp(-tp/tau2) - exp(-tp/tau1)) and tp the time of the peak,
so the current peaks at -w nA (inward, depolarising for w > 0). This is the
linearisation of NEURON's conductance-based Exp2Syn around a fixed potential:
weight = -g * (Vrest - e) gives the same current as Exp2Syn at v = Vrest.
Requires tau1 < tau2; tau1 is nudged to 0.9999*tau2 if they are (nearly) equal.
ENDCOMMENT

NEURON {
    POINT_PROCESS Exp2SynI
    RANGE tau1, tau2, i
    NONSPECIFIC_CURRENT i
}

UNITS {
    (nA) = (nanoamp)
    (mV) = (millivolt)
}

PARAMETER {
    tau1 = 0.1 (ms) <1e-9, 1e9>
    tau2 = 10 (ms) <1e-9, 1e9>
}

ASSIGNED {
    v (mV)
    i (nA)
    factor
}

STATE {
    A (nA)
    B (nA)
}

INITIAL {
    LOCAL tp
    if (tau1 / tau2 > 0.9999) {
        tau1 = 0.9999 * tau2
    }
    A = 0
    B = 0
    tp = (tau1 * tau2) / (tau2 - tau1) * log(tau2 / tau1)
    factor = 1 / (exp(-tp / tau2) - exp(-tp / tau1))
}

BREAKPOINT {
    SOLVE decay METHOD cnexp
    i = B - A
}

DERIVATIVE decay {
    A' = -A / tau1
    B' = -B / tau2
}

NET_RECEIVE(weight (nA)) {
    A = A - weight * factor
    B = B - weight * factor
}
