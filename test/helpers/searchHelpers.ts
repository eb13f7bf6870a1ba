// The one-shot network under an architecture's weights at a phase, and its sizes: what the search
// space tests ask of a network and its controller together.
import type * as E from "../../src/engine/index.js";
import type { SearchNetwork } from "../../src/searchspace/network.js";
import type { ForwardPhase } from "../../src/searchspace/phase.js";
import { searchSizes } from "../../src/searchspace/sizes.js";
import type { Architecture } from "../../src/sparsification/architecture.js";

/** Logits of the network under the architecture's cell weights at this phase. */
export function forwardUnder(net: SearchNetwork, x: E.Tensor, arch: Architecture, phase: ForwardPhase): E.Tensor {
  return net.forward(x, arch.weights(phase), phase.dropPath);
}

/** The network's sizes under the architecture: dense, and forward-pruned at this phase. */
export function sizesUnder(
  net: SearchNetwork,
  arch: Architecture,
  phase: ForwardPhase,
  shape: [number, number, number],
) {
  return searchSizes(
    net,
    { dense: arch.weights({ ...phase, threshold: -1 }), sparse: arch.weights(phase) },
    arch.numParameters(),
    shape,
  );
}
