import pandas as pd

from helpers import localisation
from helpers.claims import NOT_REPRODUCED, REPRODUCED, judge


def study_rows(attention_a, attention_b, accuracy_a, accuracy_b):
    rows = []
    for seed in range(4):
        for model, attention, accuracy in (("a", attention_a, accuracy_a), ("b", attention_b, accuracy_b)):
            rows.append({"model": model, "seed": seed, "distractor": "none", "accuracy": 0.9,
                         "attention_on_object": 0.1, "attention_on_distractor": 0.9})
            rows.append({"model": model, "seed": seed, "distractor": "artefact",
                         "accuracy": accuracy + 0.01 * seed, "attention_on_object": 0.1,
                         "attention_on_distractor": attention + 0.01 * seed * (model == "b")})
    return pd.DataFrame(rows)


def test_a_model_that_looks_less_at_the_distractor_is_less_distracted():
    table = localisation.distractor_comparison(study_rows(0.1, 0.3, 0.8, 0.6), "a", "b", ["artefact"])
    assert judge(table.loc["artefact", "attention_effect"], smallest_effect=0.05) == REPRODUCED
    assert table.loc["artefact", "accuracy drop: b minus a"].startswith("+20.00 [")
    reverse = localisation.distractor_comparison(study_rows(0.3, 0.1, 0.8, 0.6), "a", "b", ["artefact"])
    assert judge(reverse.loc["artefact", "attention_effect"], smallest_effect=0.05) == NOT_REPRODUCED


def test_localisation_scores_of_perfect_and_empty_maps():
    import numpy as np

    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2, :2] = True
    perfect = localisation.Explained("a", 0, np.zeros(2), masks.astype(float))
    empty = localisation.Explained("b", 0, np.zeros(2), np.zeros((2, 4, 4)))
    scores = localisation.localisation_scores([perfect, empty], masks, (0.5,))
    assert scores.set_index("model").loc["a", "iou"] == 1.0
    assert scores.set_index("model").loc["b", "iou"] == 0.0
    assert scores.set_index("model").loc["a", "energy"] == 1.0
