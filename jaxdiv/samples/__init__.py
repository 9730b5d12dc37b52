r"""Divergences and information from samples alone.

Nearest-neighbour estimators of entropy, KL divergence and mutual information,
one-dimensional spacing estimators of differential entropy, variational bounds
on mutual information from critic scores, and contrastive losses written as the
cross-entropies they are. All values are in nats unless `base=` says otherwise.
Mutual information is the KL divergence

$$
I(X; Y) = \mathrm{KL}(P_{XY} \,\|\, P_X \otimes P_Y) .
$$
"""

from jaxdiv.samples._bounds import (
    MineLoss,
    barber_agakov_bound,
    donsker_varadhan_bound,
    infonce_bound,
    jensen_shannon_bound,
    mine_loss,
    nwj_bound,
)
from jaxdiv.samples._contrastive import infonce_loss, supervised_contrastive_loss
from jaxdiv.samples._knn import (
    entropy_knn,
    kl_divergence_knn,
    mutual_information_ksg,
    mutual_information_mixed,
)
from jaxdiv.samples._spacings import entropy_spacings

__all__: list[str] = [
    "MineLoss",
    "barber_agakov_bound",
    "donsker_varadhan_bound",
    "entropy_knn",
    "entropy_spacings",
    "infonce_bound",
    "infonce_loss",
    "jensen_shannon_bound",
    "kl_divergence_knn",
    "mine_loss",
    "mutual_information_ksg",
    "mutual_information_mixed",
    "nwj_bound",
    "supervised_contrastive_loss",
]
