"""The published numbers that this package's reports are put beside.

Source: Y. Güçlütürk, U. Güçlü, M. A. J. van Gerven and R. van Lier,
"Deep Impression: Audiovisual Deep Residual Networks for Multimodal Apparent
Personality Trait Recognition", ECCV 2016 Workshops (ChaLearn Looking at
People), arXiv:1609.05119, §3 and §4, Tables 1-3. Accuracy is
1 - mean absolute error on the ChaLearn LAP 2016 First Impressions
validation (Tables 1 and 3) or test (Table 2) split; values as printed.

This is the one place these numbers live
(``deep_impression.evaluation.reports``
loads it for its tables).
"""

SOURCE = ('Güçlütürk et al., Deep Impression (ECCV 2016 Workshops, '
          'arXiv:1609.05119)')

#: Column order of the tables: Average first, then the traits in the order
#: of ``deep_impression.constants.PAPER_TRAIT_ORDER``.
COLUMNS = ('average', 'openness', 'agreeableness', 'conscientiousness',
           'neuroticism', 'extraversion')


def _row(*values):
    return dict(zip(COLUMNS, values))


#: Table 1: validation accuracy of the challenge model after 300, 600 and
#: 900 epochs of training.
TABLE1 = {
    300: _row(0.906461, 0.905451, 0.911128, 0.902121, 0.907886, 0.905721),
    600: _row(0.911929, 0.911924, 0.915610, 0.911717, 0.909891, 0.910503),
    900: _row(0.912132, 0.911983, 0.915466, 0.913077, 0.909705, 0.910429),
}

#: Table 2: test accuracy of the first three places of the challenge (and
#: the tenth), by rank, labelled as printed ([37] and [28] are the paper's
#: references to the first two teams). Rank 3 is the paper's network.
TABLE2 = {
    '1 [37]': _row(0.912968037541, 0.91237757, 0.91257098,
                             0.91663743, 0.9099631, 0.91329111),
    '2 [28]': _row(0.912062557634, 0.91167725, 0.91186694,
                                   0.91185413, 0.90991703, 0.91499745),
    '3 (ours)': _row(0.910932616931, 0.91108539, 0.91019226,
                                0.91377735, 0.90890031, 0.91070778),
    '10': _row(0.875888740066, 0.87026111, 0.88423626, 0.87270874,
               0.87526563, 0.87697196),
}
#: The key of the paper's own network in TABLE2.
OURS = '3 (ours)'

#: Table 3: validation accuracy of the challenge model and the two
#: post-challenge models.
TABLE3 = {
    'DNN': _row(0.912132, 0.911983, 0.915466, 0.913077, 0.909705, 0.910429),
    '5 x DNN': _row(0.911987, 0.911522, 0.915413, 0.913211, 0.909062,
                    0.910727),
    'DNN + RNN': _row(0.912158, 0.911676, 0.915761, 0.913300, 0.909056,
                      0.910996),
}

#: Epochs of the paper's schedule (§2.2).
EPOCHS = 900


#: Ventura et al. (2017), *Interpreting CNN Models for Apparent Personality
#: Trait Regression*, Table 1: mean accuracy and per-trait accuracy of the
#: winners' audiovisual model [23], of DAN+ on whole frames (img) and on
#: aligned faces (face), test set.
VENTURA_TABLE1_COLUMNS = ('average', 'openness', 'conscientiousness',
                          'extraversion', 'agreeableness', 'neuroticism')
VENTURA_TABLE1 = {
    '[23]': (0.913, 0.912, 0.917, 0.913, 0.913, 0.910),
    'img': (0.909, 0.909, 0.911, 0.909, 0.910, 0.905),
    'face': (0.912, 0.910, 0.914, 0.915, 0.912, 0.907),
}
