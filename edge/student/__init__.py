"""The distilled convolutional student: vocab, transfer set, training, conversion, TFLM and the build step."""
