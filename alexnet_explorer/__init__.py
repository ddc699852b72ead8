"""AlexNet Explorer: train the d2l AlexNet on Fashion-MNIST and look inside it."""
