"""L2 and dropout: gradient checks (dropout under a fixed mask), behaviour, and softmax on 6-class blobs."""

import numpy as np
import pytest

from nets import dense_layers, perturb_biases
from scratchnet.cli.gradcheck import main
from scratchnet.data import GENERATORS, load_football
from scratchnet.nn import Adam, CourseCompat, GradientDescent, dense_stack, fit
from scratchnet.nn.activations import HIDDEN_ACTIVATIONS
from scratchnet.nn.gradcheck import gradient_check, random_problem
from scratchnet.nn.layers import Activation, Dense, Dropout


def _net(dims, act, output="sigmoid", keep_prob=1.0, seed=1):
    net = dense_stack(dims, act, output=output, initializer="xavier", rng=seed,
                             keep_prob=keep_prob)
    perturb_biases(net, np.random.RandomState(seed + 10))
    return net


@pytest.mark.parametrize("act", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output, dims", [("sigmoid", [4, 6, 5, 1]), ("softmax", [4, 6, 5, 3])])
@pytest.mark.parametrize("lambd, keep_prob", [(0.7, 1.0), (0.0, 0.7), (0.4, [0.8, 0.6])],
                         ids=["l2", "dropout", "l2+dropout-per-layer"])
def test_gradients_with_l2_and_dropout_match_central_differences(act, output, dims, lambd, keep_prob):
    net = _net(dims, act, output, keep_prob)
    X, Y = random_problem(net, m=9, seed=3)
    assert gradient_check(net, X, Y, lambd=lambd, dropout_seed=5) < 1e-7


def test_dropout_gradient_check_really_uses_the_mask():
    # the same check with masks that change between forward passes cannot pass
    net = _net([4, 6, 5, 1], "relu", keep_prob=0.6)
    X, Y = random_problem(net, m=9, seed=3)
    with pytest.raises(ValueError, match="pass dropout_seed to check it under a fixed mask"):
        gradient_check(net, X, Y)
    assert gradient_check(net, X, Y, dropout_seed=2) < 1e-7
    # a backward that forgot the mask (dropout switched off only in backward) is caught
    net.forward(X, training=True, rng=np.random.RandomState(2))
    for layer in net.layers:
        if isinstance(layer, Dropout):
            layer.mask = None
    T = net.targets(Y)
    net.backward(T)
    wrong = np.concatenate([layer.gradients["W"].ravel() for layer in dense_layers(net)])
    gradient_check(net, X, Y, dropout_seed=2)
    right = np.concatenate([layer.gradients["W"].ravel() for layer in dense_layers(net)])
    assert np.linalg.norm(wrong - right) > 1e-3 * np.linalg.norm(right)


def test_softmax_with_six_classes_matches_central_differences():
    net = _net([2, 8, 6], "relu", "softmax", keep_prob=0.8)
    X, Y = random_problem(net, m=12, seed=4)
    assert gradient_check(net, X, Y, lambd=0.2, dropout_seed=1) < 1e-7


def test_l2_cost_is_cross_entropy_plus_the_weight_penalty():
    net = _net([4, 6, 1], "tanh")
    X, Y = random_problem(net, m=9, seed=3)
    T = net.targets(Y)
    net.forward(X)
    A = net.head.A
    cross_entropy = -np.mean(T * np.log(A) + (1 - T) * np.log(1 - A))
    penalty = 0.7 / (2 * 9) * sum(np.sum(layer.W ** 2) for layer in dense_layers(net))
    assert net.cost(T, lambd=0.7) == pytest.approx(cross_entropy + penalty, rel=1e-12)


@pytest.fixture(scope="module")
def football(data_root):
    return load_football(data_root / "football" / "data.mat")


def test_more_l2_gives_smaller_weights(football):
    norms = []
    for lambd in (0.0, 0.1, 0.7, 3.0):
        net = dense_stack([2, 20, 3, 1], "relu", initializer="course_deep", rng=3)
        fit(net, football.X_train, football.Y_train, optimizer=GradientDescent(0.3), epochs=2000, lambd=lambd)
        norms.append(sum(float(np.sum(layer.W ** 2)) for layer in dense_layers(net)))
    assert norms == sorted(norms, reverse=True) and len(set(norms)) == 4, norms
    assert norms[-1] < 0.5 * norms[0], norms


def test_keep_prob_one_equals_no_dropout_exactly(football):
    nets = []
    for keep_prob, rng in ((1.0, None), (1.0, np.random.RandomState(0)), ([1.0, 1.0], np.random.RandomState(9))):
        net = dense_stack([2, 20, 3, 1], "relu", initializer="course_deep", rng=3, keep_prob=keep_prob)
        fit(net, football.X_train, football.Y_train, optimizer=GradientDescent(0.3), epochs=300, rng=rng)
        nets.append(net)
    for net in nets[1:]:
        assert all((a.W == b.W).all() and (a.b == b.b).all() for a, b in zip(dense_layers(net), dense_layers(nets[0])))
    # and no masks were drawn from the generator
    rng = np.random.RandomState(0)
    state = rng.get_state()[1].copy()
    net = dense_stack([2, 20, 3, 1], "relu", initializer="course_deep", rng=3, keep_prob=1.0)
    fit(net, football.X_train, football.Y_train, optimizer=GradientDescent(0.3), epochs=3, rng=rng)
    assert (rng.get_state()[1] == state).all()


def test_dropout_masks_are_inverted_and_off_at_prediction():
    net = dense_stack([3, 50, 1], "relu", initializer="he", rng=1, keep_prob=0.8)
    X = np.abs(np.random.RandomState(0).randn(3, 400))
    dense, relu, dropout = net.layers[:3]
    assert isinstance(dense, Dense) and isinstance(relu, Activation) and isinstance(dropout, Dropout)
    net.forward(X, training=True, rng=np.random.RandomState(1))
    dropped = net.layers[3].A_prev  # what the output layer saw
    kept = dropout.mask
    assert 0.78 < kept.mean() < 0.82  # keep_prob of the units survive
    plain = np.maximum(relu.Z, 0)
    np.testing.assert_array_equal(dropped, plain * kept / 0.8)  # survivors scaled up by 1 / keep_prob
    # prediction never drops: twice the same, and equal to the mask-free forward
    p1, p2 = net.predict_proba(X), net.predict_proba(X)
    assert (p1 == p2).all() and dropout.mask is None
    np.testing.assert_array_equal(p1, net.forward(X))
    # training without the run's generator is refused, not silently mask-free
    with pytest.raises(ValueError, match="dropout while training needs the run's rng"):
        net.forward(X, training=True)


def test_default_dropout_draws_new_masks_course_compat_reuses_one(football):
    def masks(course_compat, rng):
        net = dense_stack([2, 20, 3, 1], "relu", initializer="course_deep", rng=3, keep_prob=0.86)
        seen = []
        layer = net.layers[2]  # dense, relu, dropout
        real_backward = layer.backward

        def spy(dA, need_input_grad=True):
            seen.append(layer.mask.copy())
            return real_backward(dA, need_input_grad)

        layer.backward = spy
        fit(net, football.X_train, football.Y_train, optimizer=GradientDescent(0.3), epochs=3, rng=rng,
            course_compat=course_compat)
        return seen

    fresh = masks(False, np.random.RandomState(1))
    assert not (fresh[0] == fresh[1]).all() and not (fresh[1] == fresh[2]).all()
    course = masks(True, None)
    assert all((m == course[0]).all() for m in course)
    # the course's mask: np.random.seed(1) then np.random.rand(20, 211) < 0.86
    np.testing.assert_array_equal(course[0], np.random.RandomState(1).rand(20, 211) < 0.86)
    other = masks(CourseCompat(dropout_seed=2), None)
    assert not (other[0] == course[0]).all()


def test_softmax_on_blobs_with_six_classes():
    blobs = GENERATORS["blobs"]()  # 200 points, labels 0..5 as sklearn gives them
    assert sorted(set(blobs.Y_train.ravel())) == [0, 1, 2, 3, 4, 5]
    net = dense_stack([2, 6], "relu", output="softmax", initializer="zeros")
    net.forward(blobs.X_train)
    assert net.cost(net.targets(blobs.Y_train)) == pytest.approx(np.log(6), abs=1e-12)  # uniform output
    net = dense_stack([2, 16, 6], "relu", output="softmax", initializer="he", rng=1)
    r = fit(net, blobs.X_train, blobs.Y_train, optimizer=Adam(0.01), epochs=400, batch_size=32,
            rng=np.random.RandomState(1))
    costs = [c for _, c in r.costs]
    assert costs[-1] < 0.35 * costs[0]
    assert net.predict(blobs.X_train).shape == (1, 200)
    assert net.accuracy(blobs.X_train, blobs.Y_train) > 0.85  # chance is 1/6


def test_gradcheck_command_passes_and_fails(capsys, monkeypatch):
    assert main(["--layer-dims", "3", "5", "4", "--activation", "tanh", "--lambd", "0.5", "--keep-prob", "0.7"]) == 0
    out = capsys.readouterr().out
    assert "output=softmax" in out and "keep_prob=0.7" in out and ": ok" in out
    # a broken backward makes the command fail with exit status 1
    real = Dense.backward

    def off(self, dZ, need_input_grad=True):
        out = real(self, dZ, need_input_grad)
        self.gradients["b"] *= 1.5
        return out

    monkeypatch.setattr(Dense, "backward", off)
    assert main(["--layer-dims", "3", "4", "1"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_gradcheck_command_rejects_bad_input(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--layer-dims", "3", "4", "1", "--keep-prob", "1.5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "keep_prob must be in (0, 1]" in err and "Traceback" not in err


def test_a_sampled_check_compares_the_samecoordinates():
    from scratchnet.nn.gradcheck import coordinates, numerical_gradients

    net = _net([4, 6, 5, 1], "tanh")
    X, Y = random_problem(net, m=9, seed=3)
    everything = numerical_gradients(net, X, net.targets(Y))
    assert everything.size == net.n_parameters == len(coordinates(net, None, 0))
    coords = coordinates(net, 10, seed=4)
    assert len(coords) == 10 and coords == sorted(coords, key=coordinates(net, None, 0).index)
    sampled = numerical_gradients(net, X, net.targets(Y), coords=coords)
    index = {c: k for k, c in enumerate(coordinates(net, None, 0))}
    np.testing.assert_array_equal(sampled, everything[[index[c] for c in coords]])
    assert gradient_check(net, X, Y, sample=10, sample_seed=4) < 1e-7


def test_gradcheck_command_on_an_experiment(capsys, data_root):
    assert main(["--experiment", "reg_dropout", "train.lambd=0.3"]) == 0
    out = capsys.readouterr().out
    assert "experiment=reg_dropout (football, 8 of 211 examples): layer_dims=[2, 20, 3, 1]" in out
    assert "lambd=0.3 keep_prob=0.86 parameters checked=127 of 127" in out and ": ok" in out
    with pytest.raises(SystemExit) as exit_:
        main(["--experiment", "reg_l2", "model.keep_prob=2"])
    assert exit_.value.code == 2
    assert "config key model.keep_prob = 2.0: expected a probability in (0, 1]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["model.keep_prob=0.5"])
    assert exit_.value.code == 2 and "need --experiment" in capsys.readouterr().err
