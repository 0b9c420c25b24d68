"""The benchmark's describe-then-predict prompt for each dimension, verbatim from the CogIP-Bench release.

The Hub dataset carries a prompt per row (the release varies the wording); these are the first test-pool
prompt of each dimension, used where no row is at hand: the built-in sample dataset and the generation judge.
The leading ``<image>`` placeholder of the release is dropped: lmms-eval wrappers place the image themselves.
"""

from __future__ import annotations

DEFAULT_PROMPTS: dict[str, str] = {
    "aesthetics": (
        "**Visual Aesthetics Analysis Sub-Task (Aesthetics):**  \nIn this sub-task, you are asked to assess the aesthetic appeal of the image based on elements such as visual harmony, composition, color, lighting, and emotional impact. Your goal is to provide a descriptive label that captures the overall aesthetic quality of the image, followed by a numerical score that reflects its aesthetic value.\n\nPlease first give a description label for the corresponding image, then predict the scores based on the following rules:  \n- (0.0, 3.5, 'very low')  \n- (3.5, 5.0, 'low')  \n- (5.0, 6.5, 'medium')  \n- (6.5, 8.0, 'high')  \n- (8.0, 10.1, 'very high')  \n\nThe score should be a number with exactly three decimal places (e.g., 7.234).  \n\nPlease return only the label and the scores number, nothing else."
    ),
    "funniness": (
        "**Sub-task: Funniness Analysis**  \nIn this task, you are to evaluate how funny the image is by analyzing its visual elements, humor, and overall comedic appeal.  \n\n**Step 1:** First, give a **description label** for the corresponding image that captures the essence of its humor (e.g., \"absurd situation\", \"unexpected twist\", \"visual pun\").  \n\n**Step 2:** Next, predict the funniness score based on the following **scores-label rules**:  \n- (0.0, 3.5] → 'very low'  \n- (3.5, 5.0] → 'low'  \n- (5.0, 6.5] → 'medium'  \n- (6.5, 8.0] → 'high'  \n- (8.0, 10.1] → 'very high'  \n\n**Step 3:** Provide the score as a **number with exactly three decimal places** (e.g., 7.234).  \n\n**Final Output:**  \nPlease return **only** the label and the score (e.g., \"medium 7.234\"), nothing else.  \n\n****"
    ),
    "emotional_valence": (
        "**Emotional Valence Analysis Task:**  \nYour task is to analyze the emotional valence of the image, which refers to the overall emotional tone conveyed (negative, neutral, or positive). First, provide a description label (e.g., \"negative\", \"neutral\", \"positive\") that best represents the emotional mood of the image. Then, predict a numerical score based on the following rules:  \n- **(-3, -0.1, 'negative')**  \n- **(0, 0.1, 'neutral')**  \n- **(1, 3.1, 'positive')**  \n\nPlease provide the label and the score (in exact three digits, e.g., -0.2, 0.0, 2.7).  \n**Only return the label and the score, nothing else.**"
    ),
    "memorability": (
        "**Sub-task: Memorability**  \nMemorability refers to how likely an image is to be remembered by a person after a single exposure. It depends on factors like visual uniqueness, emotional impact, and compositional clarity. For this sub-task, you will assess how memorable the image is based on these characteristics.\n\nPlease first give a description label for the corresponding image, then predict the memorability score based on the following rules:  \n- [0.0, 0.35, 'very low']  \n- [0.35, 0.5, 'low']  \n- [0.5, 0.65, 'medium']  \n- [0.65, 0.8, 'high']  \n- [0.8, 1.0, 'very high']  \n\nAfter providing the label, predict the score as a number with exactly three decimal places (e.g., 0.423).  \n\nPlease return only the label and the score, nothing else."
    ),
}
