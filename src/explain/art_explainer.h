// explain/art_explainer.h: KServe's ART explainer (python/artexplainer/artserver, `spec.explainer.art` with
// type SquareAttack) as a V1 :explain pass-through (server/v1_passthrough.h), over the predictor's V1 :predict.
//
// Contract:
// - Request (`POST /v1/models/<m>:explain`): {"instances": [image, label]}, exactly two elements:
//   image: numbers nested [N, H, W, C] (channels last; N images, 1 <= N <= kMaxSquareAttackImages);
//   label: a class index for one image, or N indices ([3] or [[3]]), or N one-hot rows of nb_classes.
//   Anything else is 400 naming the field ("instances[0]: ...").
// - Response (KServe's, key order included): {"explanations": {"adversarial_example": <[N,H,W,C] as float32
//   values>, "L2 error": <the L2 norm of adversarial - image>, "adversarial_prediction": <class>, "prediction":
//   <class>}}. For N = 1 (KServe's only working case) the last three are numbers; for N > 1 they are lists, one
//   per image.
// - The classifier (V1Classifier): KServe's: it POSTs {"instances": <the N inputs flattened to rows>} to the
//   predictor (`predict`) and reads "predictions": a class index per row becomes a one-hot row (KServe's
//   one-hot of predictions); a row of nb_classes numbers (probabilities or scores; KServe's explainer fails on
//   these) is used as the scores. Anything else is 500 naming the predictor's answer.
// - Errors: the predictor's failures come back with the code `predict` gives them (never 400: a predictor that
//   refuses the explainer's query is not the client's fault; pipeline/predictor_client's are 500, as KServe's),
//   the attack's deadline as 504; every message that is not a 400 says "ART explainer (SquareAttack)" and the
//   reason. Nothing here crashes on any body.
// - Thread safety: the pass-through may be called from any number of threads; each call has its own state.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "explain/art_square_attack.h"
#include "model/passthrough.h"

namespace inferd::explain {

// One V1 :predict call to the predictor: the request body (and the incoming request's headers, or null) in, the
// answer's body out (an error when the predictor cannot be reached or answers other than 2xx). The command's is
// pipeline/predictor_client.h's PredictV1.
using V1PredictFn = std::function<StatusOr<std::string>(const std::string& body, const HeaderList* incoming)>;

struct ArtExplainerOptions {
  SquareAttackOptions attack;  // max_iter, nb_classes, seed... (deadline_ns is set per request)
  int64_t timeout_ms = 0;      // per :explain request; 0 = none
};

// "SquareAttack" in any case (KServe compares lower-cased); anything else is the error KServe raises at start.
Status CheckAdversaryType(std::string_view type);

BlackBoxClassifier V1Classifier(V1PredictFn predict, int nb_classes);

// The :explain pass-through.
V1PassThrough NewArtExplainer(ArtExplainerOptions options, V1PredictFn predict);

// The :predict pass-through of the explainer's model: the body and the request's headers go to the predictor
// and its answer comes back (KServe's ART model inherits kserve.Model's predict, which calls the predictor). The
// attack's own queries carry no headers (KServe's _predict passes none).
V1PassThrough NewPredictorForward(V1PredictFn predict);

}  // namespace inferd::explain
