"""Post-processing: model outputs -> answers, word tags, top-k tokens, probabilities."""
