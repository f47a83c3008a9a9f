"""Text preprocessing: WordPiece tokenization and the tf.Transform preprocessing_fn."""
