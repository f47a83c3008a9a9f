"""Names of the transformed features shared by Transform, Trainer and Evaluator."""

INPUT_WORD_IDS = "input_word_ids"
INPUT_MASK = "input_mask"
INPUT_TYPE_IDS = "input_type_ids"
# Class index of the label, produced by Transform from the raw label column.
LABEL_ID = "label_id"
# Token-length bucket (0 = shortest) used as an evaluation slice.
LENGTH_BUCKET = "token_length_bucket"
# Number of word pieces before truncation; feeds slicing and the length stats.
NUM_TOKENS = "num_tokens"

MODEL_INPUTS = (INPUT_WORD_IDS, INPUT_MASK, INPUT_TYPE_IDS)

# Vocabulary file Transform writes with the class names, in class-index order.
LABEL_VOCAB = "label_vocab"

# Output keys of every serving signature.
PROBABILITIES = "probabilities"
PREDICTED_LABEL = "label"
