"""Regression cases harvested from real model outputs, plus known wrong-verdict traps.

REAL_CASES: one response per distinct (gold, extracted answer) pair of the 800 graded responses in
shared/benchmarks/eval_rm_maj_example/math_cot_100.jsonl whose answer is not a plain integer equal to
the gold, or that is judged wrong (63 of the 110 pairs); the response is cut to its last lines (the
verdict on the cut text was checked to equal the verdict on the full text when harvesting). Each
expected verdict was checked by hand; see docs/grading-agreement.md. Fields:
(problem idx, sample, gold ``gt``, expected status, expected extracted answer, response tail).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlbound.types import Problem, Status
from rlbound.verify.math import MathVerifier

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
EXAMPLE = SHARED / "benchmarks" / "eval_rm_maj_example" / "math_cot_100.jsonl"

REAL_CASES = [
    (1, 0, '\\frac{1}{9}', 'correct', '\\frac{1}{9}',
     '   The probability of an event is the number of favorable outcomes divided by the total number of possible outcomes. Here, the number of favorable outcomes is 4 and the total number of possible outcomes is 36. Therefore, the probability that the sum rolled is 9 is:\n   \\[\n   \\frac{4}{36} = \\frac{1}{9}\n   \\]\n\nThus, the probability that the sum rolled is 9 is \\(\\boxed{\\frac{1}{9}}\\).'),
    (3, 0, '4:30p..', 'correct', '4:30 \\text{ p.m.}',
     '120 \\text{ minutes} \\div 60 \\text{ minutes/hour} = 2 \\text{ hours}\n\\]\n\nNow, we add these 2 hours to the current time of 2:30 p.m.:\n\\[\n2:30 \\text{ p.m.} + 2 \\text{ hours} = 4:30 \\text{ p.m.}\n\\]\n\nTherefore, Bobbi and her family will arrive at their destination at \\boxed{4:30 \\text{ p.m.}}.'),
    (6, 0, '\\frac{3}{8}', 'wrong', '\\frac{5}{16}',
     '\\text{Fraction of the total area that is shaded} = \\frac{\\text{Total area of the shaded regions}}{\\text{Total area of the block}} = \\frac{\\frac{5s^2}{16}}{s^2} = \\frac{5}{16}\n\\]\n\nThus, the fraction of the total area of the block that is shaded is:\n\\[\n\\boxed{\\frac{5}{16}}\n\\]'),
    (6, 1, '\\frac{3}{8}', 'correct', '\\frac{3}{8}',
     'Therefore, the fraction of the total area of the block that is shaded is:\n\\[\n\\frac{\\text{Total shaded area}}{\\text{Total area of the block}} = \\frac{\\frac{3s^2}{8}}{s^2} = \\frac{3}{8}\n\\]\n\nThus, the fraction of the total area of the block that is shaded is:\n\\[\n\\boxed{\\frac{3}{8}}\n\\]'),
    (6, 3, '\\frac{3}{8}', 'wrong', '\\frac{3}{4}',
     'The total area of the quilt block is \\( s^2 \\). Therefore, the fraction of the total area of the block that is shaded is:\n\\[\n\\frac{\\text{Total area of the shaded regions}}{\\text{Total area of the block}} = \\frac{\\frac{3s^2}{4}}{s^2} = \\frac{3}{4}\n\\]\n\nThus, the fraction of the total area of the block that is shaded is \\(\\boxed{\\frac{3}{4}}\\).'),
    (6, 5, '\\frac{3}{8}', 'wrong', '\\frac{1}{4}',
     'Finally, we find the fraction of the total area of the quilt block that is shaded. The total area of the quilt block is \\( s^2 \\), so the fraction is:\n\\[\n\\frac{\\text{Total area of shaded regions}}{\\text{Total area of the block}} = \\frac{\\frac{s^2}{4}}{s^2} = \\frac{1}{4}\n\\]\n\nThus, the fraction of the total area of the block that is shaded is \\(\\boxed{\\frac{1}{4}}\\).'),
    (6, 6, '\\frac{3}{8}', 'wrong', '\\frac{3}{16}',
     'The total area of the shaded regions is \\( 6 \\times \\frac{s^2}{32} = \\frac{6s^2}{32} = \\frac{3s^2}{16} \\).\n\nTherefore, the fraction of the total area of the block that is shaded is \\( \\frac{\\frac{3s^2}{16}}{s^2} = \\frac{3}{16} \\).\n\nThe final answer is \\( \\boxed{\\frac{3}{16}} \\).'),
    (17, 2, '6290000', 'wrong', '6287000',
     '4. Replace all digits to the right of the ten thousand place with zeros. The digits to the right of the ten thousand place in \\(6287215\\) are \\(215\\). Replacing these with zeros, we get \\(6287000\\).\n\nTherefore, the number \\(6287215\\) rounded to the nearest ten thousand is \\(\\boxed{6287000}\\).'),
    (19, 0, '\\frac{1}{2}', 'correct', '\\frac{1}{2}',
     'So, the expression \\(\\frac{7+21}{14+42}\\) simplifies to \\(\\frac{28}{56}\\). Next, we simplify \\(\\frac{28}{56}\\) by finding the greatest common divisor (GCD) of 28 and 56. The GCD of 28 and 56 is 28. We divide both the numerator and the denominator by 28:\n\n\\[\n\\frac{28 \\div 28}{56 \\div 28} = \\frac{1}{2}\n\\]\n\nTherefore, the value of \\(\\frac{7+21}{14+42}\\) is \\(\\boxed{\\frac{1}{2}}\\).'),
    (22, 0, '4a-2', 'correct', '4a-2',
     "\\[a + a + a + a = 4a.\\]\n\nNext, let's group the constant terms together:\n\\[1 - 2 + 3 - 4 = (1 + 3) + (-2 - 4) = 4 - 6 = -2.\\]\n\nNow, we combine the simplified \\(a\\) terms and constant terms:\n\\[4a + (-2) = 4a - 2.\\]\n\nTherefore, the simplified expression is \\(\\boxed{4a-2}\\)."),
    (24, 0, '12\\frac{3}{5}', 'correct', '12 \\frac{3}{5}',
     'Step 2: Write the mixed number using the quotient as the whole number part and the remainder as the numerator of the fractional part, with the original denominator as the denominator of the fractional part.\nThe quotient is 12, the remainder is 3, and the original denominator is 5. Therefore, the mixed number is:\n\\[ 12 \\frac{3}{5}. \\]\n\nSo, the mixed number representation of \\(\\frac{63}{5}\\) is \\(\\boxed{12 \\frac{3}{5}}\\).'),
    (28, 0, '4', 'wrong', '11',
     '    (4 \\cdot 5 + 1) \\cdot (2 \\cdot 3) = (20 + 1) \\cdot 6 = 21 \\cdot 6 = 126.\n    \\]\n    This is the same as Case 6.\n\nFrom the above cases, we see that the distinct values are \\(121, 144, 150, 160, 180, 126, 128, 130, 132, 135,\\) and \\(140\\). Therefore, the number of distinct values that can be obtained is:\n\n\\[\n\\boxed{11}\n\\]'),
    (28, 3, '4', 'wrong', '15',
     '   - \\((4 \\cdot 5) \\cdot (3 \\cdot 2 + 1) = 20 \\cdot 7 = 140\\) (already considered)\n\nFrom the above evaluations, the distinct values are:\n\\[121, 122, 123, 124, 125, 126, 128, 130, 132, 135, 140, 144, 150, 160, 180.\\]\n\nThus, the total number of different values that can be obtained is:\n\\[\\boxed{15}.\\]'),
    (28, 5, '4', 'wrong', '2',
     '   - \\(2 \\cdot (3 \\cdot 4) \\cdot (5 + 1) = 2 \\cdot 12 \\cdot 6 = 144.\\) (This is the same as Case 1.)\n\nFrom the above analysis, we see that the only distinct values we can obtain are 121 and 144. Therefore, the total number of distinct values is:\n\n\\[\n\\boxed{2}\n\\]'),
    (28, 6, '4', 'wrong', '3',
     '   - \\((2 \\cdot 3 \\cdot (4 \\cdot (5 + 1))) = 2 \\cdot 3 \\cdot 4 \\cdot 6 = 144.\\)\n   - \\((2 \\cdot 3 \\cdot (4 \\cdot 5 + 1)) = 2 \\cdot 3 \\cdot 21 = 126.\\)\n\nFrom the above cases, we see that the distinct values obtained are \\(121\\), \\(126\\), and \\(144\\). Therefore, the total number of different values that can be obtained is:\n\\[\n\\boxed{3}.\n\\]'),
    (28, 7, '4', 'wrong', '13',
     '30. \\((4 \\cdot 5 + 1) \\cdot (2 \\cdot 3 + 1) = 21 \\cdot 7 = 147\\) (same as the previous)\n\nFrom the above calculations, the distinct values are:\n\\[121, 144, 150, 160, 180, 126, 128, 130, 132, 135, 140, 147, 143.\\]\n\nThere are 13 distinct values. Therefore, the number of distinct values that can be obtained is:\n\\[\\boxed{13}.\\]'),
    (29, 0, '\\frac{11}{13}', 'correct', '\\frac{11}{13}',
     '   \\[\n   -13x + 20 - 20 = 9 - 20\n   \\]\n   Simplify:\n   \\[\n   -13x = -11\n   \\]\n\n5. **Solve for \\(x\\) by dividing both sides by -13:**\n   \\[\n   x = \\frac{-11}{-13}\n   \\]\n   Simplify:\n   \\[\n   x = \\frac{11}{13}\n   \\]\n\nTherefore, the value of \\(x\\) is \\(\\boxed{\\frac{11}{13}}\\).'),
    (33, 0, '4t', 'correct', '4t',
     'So, the \\(t\\) terms simplify to \\(4t\\).\n\nFor the constant terms, we subtract:\n\\[4 - 4 = 0.\\]\nSo, the constant terms simplify to \\(0\\).\n\nPutting it all together, the simplified expression is:\n\\[4t + 0 = 4t.\\]\n\nTherefore, the simplified form of the expression \\(3t + 4 - 6t + 7t - 4\\) is \\(\\boxed{4t}\\).'),
    (34, 0, '\\frac{11}{100}', 'correct', '\\frac{11}{100}',
     '   The probability \\( P \\) of an event is given by the ratio of the number of favorable outcomes to the total number of possible outcomes. In this case, the probability is:\n   \\[\n   P = \\frac{\\text{Number of favorable outcomes}}{\\text{Total number of possible outcomes}} = \\frac{11}{100}\n   \\]\n\nThus, the probability that the integer is in the range 10 through 20, inclusive, is \\(\\boxed{\\frac{11}{100}}\\).'),
    (35, 0, '\\frac{5}{8}', 'correct', '\\frac{5}{8}',
     'Now, we need to find the ratio of the area of triangle \\(ACB\\) to the area of trapezoid \\(ABCD\\):\n\\[\n\\text{Ratio} = \\frac{A_{\\text{triangle}}}{A_{\\text{trapezoid}}} = \\frac{10h}{16h} = \\frac{10}{16} = \\frac{5}{8}.\n\\]\n\nThus, the ratio of the area of triangle \\(ACB\\) to the area of trapezoid \\(ABCD\\) is \\(\\boxed{\\frac{5}{8}}\\).'),
    (37, 0, '1\\frac{1}{10}', 'wrong', '1 \\frac{8}{91}',
     'We can simplify \\(\\frac{99}{91}\\) by finding the greatest common divisor of 99 and 91, which is 1. Therefore, \\(\\frac{99}{91}\\) is already in its simplest form. To convert \\(\\frac{99}{91}\\) to a mixed number, we perform the division:\n\\[\n99 \\div 91 = 1 \\text{ remainder } 8.\n\\]\nSo, \\(\\frac{99}{91} = 1 \\frac{8}{91}\\).\n\nThus, the value of \\(0.0\\overline{3} \\div 0.\\overline{03}\\) is \\(\\boxed{1 \\frac{8}{91}}\\).'),
    (37, 1, '1\\frac{1}{10}', 'correct', '1 \\frac{1}{10}',
     '\\[\\frac{1}{30} \\div \\frac{1}{33} = \\frac{1}{30} \\times \\frac{33}{1} = \\frac{33}{30} = \\frac{11}{10}\\]\nThe fraction \\(\\frac{11}{10}\\) can be written as the mixed number \\(1 \\frac{1}{10}\\).\n\nTherefore, the value of \\(0.0\\overline{3} \\div 0.\\overline{03}\\) is \\(\\boxed{1 \\frac{1}{10}}\\).'),
    (37, 4, '1\\frac{1}{10}', 'wrong', '1 \\frac{1}{9}',
     '\\[\\frac{1}{30} \\div \\frac{3}{100} = \\frac{1}{30} \\times \\frac{100}{3} = \\frac{100}{90} = \\frac{10}{9}\\]\nThe fraction \\(\\frac{10}{9}\\) can be written as a mixed number:\n\\[\\frac{10}{9} = 1 \\frac{1}{9}\\]\nTherefore, the value of \\(0.0\\overline{3} \\div 0.\\overline{03}\\) is \\(\\boxed{1 \\frac{1}{9}}\\).'),
    (43, 0, '7\\pi', 'correct', '7\\pi',
     'The greatest area is \\(20\\pi\\) (Region \\(Y\\)) and the smallest area is \\(13\\pi\\) (Region \\(Z\\)). The difference between the greatest area and the smallest area is:\n\\[\n20\\pi - 13\\pi = 7\\pi\n\\]\n\nThus, the difference between the area of the region with the greatest area and the area of the region with the smallest area is \\(\\boxed{7\\pi}\\).'),
    (46, 0, '\\frac{4}{11}', 'correct', '\\frac{4}{11}',
     "First, let's find the GCD of 8 and 22. The factors of 8 are 1, 2, 4, and 8. The factors of 22 are 1, 2, 11, and 22. The greatest common factor of 8 and 22 is 2.\n\nNow, we divide both the numerator and the denominator of the fraction \\(\\frac{8}{22}\\) by their GCD, which is 2:\n\\[\n\\frac{8 \\div 2}{22 \\div 2} = \\frac{4}{11}\n\\]\n\nTherefore, the simplified form of \\(\\frac{8}{22}\\) is \\(\\boxed{\\frac{4}{11}}\\)."),
    (49, 0, '\\frac{27}{128}', 'correct', '\\frac{27}{128}',
     '\\left(\\frac{3}{4}\\right)^3 = \\frac{3^3}{4^3} = \\frac{27}{64}.\n\\]\n\nNext, we multiply \\(\\frac{27}{64}\\) by \\(\\frac{1}{2}\\):\n\\[\n\\frac{1}{2} \\left(\\frac{27}{64}\\right) = \\frac{1 \\cdot 27}{2 \\cdot 64} = \\frac{27}{128}.\n\\]\n\nTherefore, the value of \\(\\frac{1}{2}\\left(\\frac{3}{4}\\right)^3\\) is \\(\\boxed{\\frac{27}{128}}\\).'),
    (53, 0, '900,000,000', 'correct', '900000000',
     '     9 \\times 10 \\times 10 \\times 10 \\times 10 \\times 10 \\times 10 \\times 10 \\times 10 = 9 \\times 10^8\n     \\]\n\n3. **Simplify the expression:**\n   - Calculating the right-hand side, we get:\n     \\[\n     9 \\times 10^8 = 9 \\times 100,000,000 = 900,000,000\n     \\]\n\nThus, the total number of possible 9-digit zip codes is \\(\\boxed{900000000}\\).'),
    (54, 0, '25', 'wrong', '6.5',
     'Now, we can determine the percentage of the total savings that $Q$ contributed by dividing the area of region $Q$ by the total area of the square and then multiplying by 100:\n\\[\n\\text{Percentage}_Q = \\left( \\frac{\\text{Area}_Q}{\\text{Total Area}} \\right) \\times 100 = \\left( \\frac{156}{2400} \\right) \\times 100 = 6.5\\%\n\\]\n\nTherefore, the percent of the total that $Q$ contributed is \\(\\boxed{6.5}\\).'),
    (54, 1, '25', 'wrong', '12.5',
     '\\text{Percentage} = \\left( \\frac{\\text{Area}_Q}{\\text{Total Area}} \\right) \\times 100\n\\]\nSubstituting the values we calculated:\n\\[\n\\text{Percentage} = \\left( \\frac{312}{2496} \\right) \\times 100 = \\frac{1}{8} \\times 100 = 12.5\n\\]\n\nTherefore, the percentage of the total savings that $Q$ contributed is:\n\\[\n\\boxed{12.5}\n\\]'),
    (54, 3, '25', 'wrong', '22.22',
     '\\text{Percentage}_Q = \\left( \\frac{\\text{Area}_Q}{\\text{Total Area}} \\right) \\times 100 = \\left( \\frac{144}{648} \\right) \\times 100 = \\frac{1}{4.5} \\times 100 = \\frac{100}{4.5} = \\frac{200}{9} \\approx 22.22\\%\n\\]\n\nTherefore, the percentage of the total that $Q$ contributed is:\n\\[\n\\boxed{22.22}\n\\]'),
    (54, 5, '25', 'wrong', '33.33',
     '\\text{Percent}_Q = \\left( \\frac{\\text{Area}_Q}{\\text{Total Area}} \\right) \\times 100\n\\]\n\nSubstituting the values we have:\n\\[\n\\text{Percent}_Q = \\left( \\frac{312}{936} \\right) \\times 100 = \\frac{1}{3} \\times 100 = 33.33\\%\n\\]\n\nTherefore, the percent of the total savings that \\( Q \\) contributed is:\n\\[\n\\boxed{33.33}\n\\]'),
    (54, 6, '25', 'wrong', '13',
     'To simplify the fraction \\(\\frac{312}{2400}\\), we can divide both the numerator and the denominator by their greatest common divisor, which is 24:\n\\[\n\\frac{312 \\div 24}{2400 \\div 24} = \\frac{13}{100}\n\\]\n\nTherefore, the percent contribution of \\( Q \\) is:\n\\[\n\\left( \\frac{13}{100} \\right) \\times 100 = 13\\%\n\\]\n\nThus, the percent of the total that \\( Q \\) contributed is \\(\\boxed{13}\\).'),
    (54, 7, '25', 'wrong', '20',
     'To find the percentage contribution of $Q$, we use the formula:\n\\[\n\\text{Percentage contribution of } Q = \\left( \\frac{\\text{Area of } Q}{\\text{Total area}} \\right) \\times 100 = \\left( \\frac{312}{2400} \\right) \\times 100 = 13\\%\n\\]\n\nThus, the percentage of the total that $Q$ contributed is:\n\\[\n\\boxed{20}\n\\]'),
    (56, 0, '\\frac{16}{81}', 'correct', '\\frac{16}{81}',
     '\\frac{4}{9} \\times \\frac{2}{3} = \\frac{4 \\times 2}{9 \\times 3} = \\frac{8}{27}\n\\]\n\\[\n\\frac{8}{27} \\times \\frac{2}{3} = \\frac{8 \\times 2}{27 \\times 3} = \\frac{16}{81}\n\\]\n\nTherefore, the value of \\(\\frac{2}{3} \\left(\\frac{2}{3}\\right)^{2} \\frac{2}{3}\\) is \\(\\boxed{\\frac{16}{81}}\\).'),
    (58, 1, '12', 'wrong', '1.39',
     'This gives the time in hours. To convert this time into minutes, we multiply by 60 (since there are 60 minutes in an hour):\n\\[\n\\text{Time} = \\frac{1}{43} \\times 60 \\text{ minutes} = \\frac{60}{43} \\text{ minutes} \\approx 1.3953 \\text{ minutes}\n\\]\nRounding to the nearest hundredth, the time it will take for the lion to catch the elephant is:\n\\[\n\\boxed{1.39}\n\\]'),
    (59, 0, '3,250', 'correct', '3250',
     'Now, we multiply the number of choices for each position to find the total number of possible 3-letter sequences:\n\\[\n26 \\times 5 \\times 25\n\\]\n\nFirst, we calculate \\(26 \\times 5\\):\n\\[\n26 \\times 5 = 130\n\\]\n\nNext, we multiply the result by 25:\n\\[\n130 \\times 25 = 3250\n\\]\n\nTherefore, the total number of 3-letter sequences that can be formed is \\(\\boxed{3250}\\).'),
    (60, 0, '\\frac{2}{5}', 'correct', '\\frac{2}{5}',
     '\\[\\frac{38}{45} - \\frac{20}{45} = \\frac{38 - 20}{45} = \\frac{18}{45}\\]\nWe can simplify \\(\\frac{18}{45}\\) by dividing the numerator and the denominator by their greatest common divisor, which is 9:\n\\[\\frac{18}{45} = \\frac{18 \\div 9}{45 \\div 9} = \\frac{2}{5}\\]\nSo, the value of \\(0.8\\overline{4} - 0.\\overline{4}\\) is \\(\\boxed{\\frac{2}{5}}\\).'),
    (65, 0, '37.50', 'correct', '37.50',
     'Next, we subtract the cost of the t-shirts from the total amount Sarah spent to find the cost of the sweatshirt. Sarah spent a total of \\$67.94, so the cost of the sweatshirt is:\n\\[ 67.94 - 30.44 = 37.50 \\]\n\nTherefore, the cost of the sweatshirt is \\(\\boxed{37.50}\\).'),
    (68, 0, '\\frac{16}{27}', 'correct', '\\frac{16}{27}',
     '5. **Milk remaining after the third mile:**\n   Starting with \\(\\frac{8}{9}\\) gallons, after the third mile, the milk remaining is:\n   \\[\n   \\frac{8}{9} \\times \\frac{2}{3} = \\frac{16}{27} \\text{ gallons}\n   \\]\n\nTherefore, the amount of milk in the bucket when Sam gets home is \\(\\boxed{\\frac{16}{27}}\\) gallons.'),
    (70, 0, '31', 'wrong', '19',
     'The pentagon \\(ABCDE\\) is formed by removing the area of the triangle \\(ABC\\) from the area of the square \\(ABDE\\). Thus, the area of the pentagon is:\n\n\\[\n\\text{Area of pentagon } ABCDE = \\text{Area of square } ABDE - \\text{Area of } \\triangle ABC = 25 - 6 = 19 \\text{ square units}\n\\]\n\nTherefore, the area of the pentagon \\(ABCDE\\) is \\(\\boxed{19}\\).'),
    (72, 0, '10{,}000', 'wrong', '9999',
     'Since the problem does not specify to round or to give a specific number of decimal places, we can leave the answer in its exact form. However, typically in such problems, the answer is expected to be an integer, so we assume the problem is asking for the integer part of the division result. Therefore, the integer part of \\(9,999.857142857143\\) is:\n\n\\[\n9{,}999\n\\]\n\nThus, the final answer is:\n\n\\[\n\\boxed{9999}\n\\]'),
    (72, 1, '10{,}000', 'wrong', '9998',
     'So, the quotient of 69,990 divided by 7 is 9,998 with a remainder of 4. Since we are only interested in the quotient, the answer is:\n\n\\[\n\\frac{69{,}990}{7} = 9{,}998.571428571429\n\\]\n\nHowever, for the purpose of this problem, we will consider the integer part of the quotient:\n\n\\[\n\\boxed{9998}\n\\]'),
    (72, 3, '10{,}000', 'wrong', '9999.857142857143',
     'Since the problem does not specify to round or to give an exact decimal, we can leave the answer in its exact form. However, typically in such problems, the answer is expected to be an integer if the division is exact. Here, the division is not exact, so we might round to the nearest whole number if required. But for the purpose of this problem, we will keep the exact form:\n\n\\[\n\\boxed{9999.857142857143}\n\\]'),
    (72, 5, '10{,}000', 'wrong', '9998.571428571429',
     'Since the problem does not specify to round or to give a specific number of decimal places, we can leave the answer as it is. However, typically in such problems, we are expected to provide the exact answer, which is:\n\n\\[\n\\boxed{9998.571428571429}\n\\]\n\nFor practical purposes, if we need a whole number, we would round to the nearest whole number, which is 9,999. But the exact answer is \\(\\boxed{9998.571428571429}\\).'),
    (72, 6, '10{,}000', 'wrong', '9999 \\frac{6}{7}',
     "For the sake of simplicity and assuming the problem expects the whole number part, we can say:\n\n\\[\n9{,}999\n\\]\n\nHowever, the most accurate answer, considering the problem's context and the presence of a remainder, is:\n\n\\[\n\\boxed{9999.857142857143}\n\\] or \\(\\boxed{9999 \\frac{6}{7}}\\)."),
    (72, 7, '10{,}000', 'correct', '10000',
     'Next, we need to add the numbers inside the numerator:\n\n\\[\n49{,}994 + 20{,}006 = 70{,}000\n\\]\n\nSo the expression simplifies to:\n\n\\[\n\\frac{70{,}000}{7}\n\\]\n\nNow, we perform the division:\n\n\\[\n70{,}000 \\div 7 = 10{,}000\n\\]\n\nTherefore, the value of \\(49{,}994 \\div 7 + 20{,}006 \\div 7\\) is \\(\\boxed{10000}\\).'),
    (75, 0, '13.18', 'correct', '13.18',
     '- Subtract the hundredths place: \\(8 - 0 = 8\\).\n- Subtract the tenths place: \\(7 - 6 = 1\\).\n- Subtract the units place: \\(6 - 3 = 3\\).\n- Subtract the tens place: \\(5 - 4 = 1\\).\n\nPutting it all together, we get:\n\\[\n56.78 - 43.60 = 13.18\n\\]\n\nSo, the answer is \\(\\boxed{13.18}\\).'),
    (76, 0, '1\\frac{1}{4}', 'correct', '1 \\frac{1}{4}',
     '   There are 16 tablespoons in a cup. To find out how many cups are in 20 tablespoons, we divide 20 by 16:\n   \\[\n   \\frac{20}{16} = \\frac{5}{4} = 1 \\frac{1}{4} \\text{ cups}\n   \\]\n\nSo, the number of cups of garlic powder needed to make the recipe for 80 people is \\(\\boxed{1 \\frac{1}{4}}\\).'),
    (77, 0, '-\\frac{40}{153}', 'correct', '-\\frac{40}{153}',
     '4. **Simplify the fraction if possible**: Check if the numerator and the denominator have any common factors other than 1. The factors of -40 are \\(\\pm 1, \\pm 2, \\pm 4, \\pm 5, \\pm 8, \\pm 10, \\pm 20, \\pm 40\\) and the factors of 153 are \\(\\pm 1, \\pm 3, \\pm 9, \\pm 17, \\pm 51, \\pm 153\\). The only common factor is \\(\\pm 1\\), so the fraction is already in its simplest form.\n\nTherefore, the product of \\(\\frac{-5}{9} \\cdot \\frac{8}{17}\\) is \\(\\boxed{-\\frac{40}{153}}\\).'),
    (81, 0, 'A', 'correct', 'A',
     '  - This does not match the increasing volume during the filling time.\n\n- **Graph E:**\n  - The volume increases linearly, plateaus briefly, and then decreases.\n  - This does not match the constant volume during the overflow time.\n\nBased on the analysis, the correct graph is \\(\\boxed{A}\\).'),
    (81, 3, 'A', 'wrong', 'C',
     '- **Graph E**: The graph shows a linear increase followed by a linear decrease. The linear increase corresponds to the filling time, but the linear decrease does not correspond to the overflow time. This graph is incorrect.\n\nTherefore, the correct graph is \\(\\boxed{C}\\).'),
    (83, 0, '\\frac{130}{231}', 'correct', '\\frac{130}{231}',
     'Dividing by a fraction is equivalent to multiplying by its reciprocal. Therefore, we have:\n\n\\[\\frac{-\\frac{10}{21}}{-\\frac{11}{13}} = \\left(-\\frac{10}{21}\\right) \\cdot \\left(-\\frac{13}{11}\\right) = \\frac{10 \\cdot 13}{21 \\cdot 11} = \\frac{130}{231}.\\]\n\nThus, the value of \\(\\frac{xy}{z}\\) is \\(\\boxed{\\frac{130}{231}}\\).'),
    (84, 0, '140', 'wrong', '40',
     'Angle 2 is the same as the angle between \\( m_1 \\) and \\( m_2 \\) because they are corresponding angles formed by the intersection of \\( m_1 \\) and \\( m_2 \\) with the parallel lines \\( l_1 \\) and \\( l_2 \\). Thus, the measure of angle 2 is also 40 degrees.\n\nTherefore, the measure of angle 2 is \\(\\boxed{40}\\).'),
    (85, 0, '68', 'wrong', '64',
     'Therefore, the dimensions of the overlapping region are \\(8\\) inches by \\(8\\) inches. The area of the overlapping region is calculated as follows:\n\\[\n\\text{Area} = \\text{length} \\times \\text{width} = 8 \\, \\text{inches} \\times 8 \\, \\text{inches} = 64 \\, \\text{square inches}\n\\]\n\nThus, the area of the region of overlap is \\(\\boxed{64}\\).'),
    (85, 3, '68', 'wrong', '80',
     'The height of the overlapping region is:\n\\[\n\\min\\left(10, 11\\right) = 10 \\text{ inches}\n\\]\n\nThe area of the overlapping region is the product of its width and height:\n\\[\n8 \\text{ inches} \\times 10 \\text{ inches} = 80 \\text{ square inches}\n\\]\n\nThus, the area of the region of overlap is \\(\\boxed{80}\\).'),
    (87, 0, '1\\frac{9}{10}', 'correct', '1\\frac{9}{10}',
     'Now, we convert the improper fraction \\(\\frac{19}{10}\\) back to a mixed number. We do this by dividing 19 by 10, which gives a quotient of 1 and a remainder of 9. Therefore, \\(\\frac{19}{10} = 1\\frac{9}{10}\\).\n\nSo, the number of cups of flour Stacy will use is \\(\\boxed{1\\frac{9}{10}}\\).'),
    (92, 0, '28', 'wrong', '\\sqrt{34} + 3\\sqrt{10}',
     '\\text{Length of the hypotenuse} = \\sqrt{9^2 + 3^2} = \\sqrt{81 + 9} = \\sqrt{90} = 3\\sqrt{10}\n\\]\n\nThe total length of the rope is the sum of the lengths of these two hypotenuses:\n\n\\[\n\\text{Total length of the rope} = \\sqrt{34} + 3\\sqrt{10}\n\\]\n\nThus, the length of the rope is:\n\n\\[\n\\boxed{\\sqrt{34} + 3\\sqrt{10}}\n\\]'),
    (92, 2, '28', 'wrong', '20',
     'To find the length of the rope, we need to calculate the arc length of the parabola from \\( x = 0 \\) to \\( x = 14 \\). However, this is a complex calculation involving integration. Instead, we can use the fact that the length of a catenary curve or a parabola can be approximated by the sum of the lengths of the two right triangles and a small correction factor. For small deflections, this correction factor is small and often negligible.\n\nTherefore, the length of the rope is approximately:\n\\[\n\\boxed{20}\n\\] meters.'),
    (97, 0, '\\frac{3}{50}', 'correct', '\\frac{3}{50}',
     'There are 6 divisors in total. Now, we need to determine the probability that a randomly selected number from 1 through 100 is one of these divisors. Since there are 100 possible numbers to choose from, the probability is the number of favorable outcomes (the number of divisors of 50) divided by the total number of possible outcomes (the numbers from 1 to 100).\n\nThus, the probability is:\n\\[ \\frac{6}{100} = \\frac{3}{50} \\]\n\nTherefore, the probability that a randomly selected number from 1 through 100 is a divisor of 50 is:\n\\[ \\boxed{\\frac{3}{50}} \\]'),
    (98, 0, '50,625', 'correct', '50625',
     'Since the choices for each of these positions are independent of each other, the total number of distinct possibilities for the diagonal is the product of the number of choices for each position:\n\n\\[\n15 \\times 15 \\times 15 \\times 15 = 15^4 = 50625\n\\]\n\nThus, the number of distinct possibilities for the values in the diagonal going from top left to bottom right of a BINGO card is \\(\\boxed{50625}\\).'),
    (98, 1, '50,625', 'wrong', '759375',
     'Thus, the total number of distinct possibilities for the values in the diagonal is:\n\n\\[\n15 \\times 15 \\times 15 \\times 15 \\times 15 = 15^5 = 759375\n\\]\n\nTherefore, the number of distinct possibilities for the values in the diagonal going from top left to bottom right of a BINGO card is \\(\\boxed{759375}\\).'),
    (98, 4, '50,625', 'wrong', '2500',
     '- There are 5 choices for the fifth number (from \\(61-75\\)).\n\nMultiplying these choices together, we get:\n\\[\n5 \\times 5 \\times 4 \\times 5 \\times 5 = 2500\n\\]\n\nThus, the number of distinct possibilities for the values in the diagonal going from top left to bottom right of a BINGO card is \\(\\boxed{2500}\\).'),
    (98, 5, '50,625', 'wrong', '708750',
     '15^2 = 225\n\\]\n\\[\n15^4 = 225^2 = 50625\n\\]\n\nNow, we multiply this result by \\(14\\):\n\\[\n50625 \\times 14 = 708750\n\\]\n\nTherefore, the total number of distinct possibilities for the values in the diagonal going from top left to bottom right of a BINGO card is \\(\\boxed{708750}\\).'),
]

# Problems where the recorded grader of the file (Qwen2.5-Math harness) and rlbound disagree, and
# rlbound is right (docs/grading-agreement.md): idx 3 is "4:30 p.m." (gold mangled to "4:30p..",
# recorded grader compared "4:30" as a string); idx 72 sample 7 is 10000 vs gold "10{,}000".
KNOWN_DISAGREEMENTS = {(3, s) for s in range(8)} | {(72, 7)}

# Pain point 3: wrong verdicts reported against Math-Verify and Qwen's math_equal.
TRAPS = [
    ("\\frac{1}{2006!}", "Hence the probability is $\\boxed{\\frac{1}{2004!}}$.", "wrong"),  # Math-Verify #14
    ("\\frac{1}{2006!}", "Hence the probability is $\\boxed{\\frac{1}{2006!}}$.", "correct"),
    ("2021", "So $x = \\boxed{\\pm 2021}$.", "wrong"),  # Math-Verify #47
    ("\\pm 2021", "So $x = \\boxed{2021}$.", "wrong"),
    ("1,-3", "The roots are $\\boxed{1,-2}$.", "wrong"),  # Qwen2.5-Math #50
    ("1,-2", "The roots are $\\boxed{1,-3}$.", "wrong"),
    ("1,-2", "The roots are $\\boxed{-2, 1}$.", "correct"),
    ("1,-2", "The roots are $\\boxed{1}$ and $\\boxed{-2}$.", "correct"),
    ("1,-2", "The roots are $\\boxed{-2}$.", "wrong"),  # partial answer set
    ("(1,8,19), (2,7,13), (4,5,7)", "\\boxed{(1,8,19), (2,7,13)}", "wrong"),
    ("(1,8,19), (2,7,13), (4,5,7)", "\\boxed{(4,5,7), (1,8,19), (2,7,13)}", "correct"),
    ("1, 2, 3", "So $n \\in \\boxed{\\{1, 2, 3, 4\\}}$.", "wrong"),
    ("1\\times 10^{-19}", "\\boxed{5\\times 10^{-19}}", "wrong"),
]


@pytest.fixture(scope="module")
def verifier() -> MathVerifier:
    return MathVerifier()


@pytest.mark.parametrize("idx, sample, gold, expected, extracted, response", REAL_CASES,
                         ids=[f"idx{c[0]}-s{c[1]}" for c in REAL_CASES])
def test_real_outputs(verifier, idx, sample, gold, expected, extracted, response):
    verdict = verifier.verify(Problem(id=str(idx), prompt="", reference=gold), response)
    assert verdict.status.value == expected, verdict.detail
    assert verdict.extracted == extracted


@pytest.mark.parametrize("gold, response, expected", TRAPS)
def test_wrong_verdict_traps(verifier, gold, response, expected):
    verdict = verifier.verify(Problem(id="t", prompt="", reference=gold), response)
    assert verdict.status.value == expected, verdict.detail


@pytest.mark.skipif(not EXAMPLE.is_file(), reason=f"shared example data not found at {EXAMPLE}")
def test_agreement_with_recorded_verdicts(verifier):
    """All 800 real responses: >= 97% agreement with the recorded ``score``; only known disagreements."""
    rows = [json.loads(line) for line in EXAMPLE.read_text().splitlines() if line.strip()]
    disagreements = set()
    total = 0
    for row in rows:
        problem = Problem(id=str(row["idx"]), prompt=row["question"], reference=row["gt"])
        for sample, (response, score) in enumerate(zip(row["code"], row["score"], strict=True)):
            verdict = verifier.verify(problem, response)
            assert verdict.status in (Status.CORRECT, Status.WRONG), verdict.detail
            total += 1
            if verdict.correct != bool(score):
                disagreements.add((row["idx"], sample))
    assert total == 800
    assert (total - len(disagreements)) / total >= 0.97
    assert disagreements == KNOWN_DISAGREEMENTS


@pytest.mark.skipif(not EXAMPLE.is_file(), reason=f"shared example data not found at {EXAMPLE}")
def test_quick_verdicts_equal_full_verdicts_on_real_responses():
    """``quick_verify`` (run in the runner's parent, no SymPy) decides most real responses, and each
    verdict it gives is exactly the one ``verify`` gives (a fresh verifier, so no shared cache)."""
    quick_side, full_side = MathVerifier(), MathVerifier()
    rows = [json.loads(line) for line in EXAMPLE.read_text().splitlines() if line.strip()]
    decided = 0
    cases = [(row["gt"], response) for row in rows for response in row["code"]]
    cases += [(gold, response) for gold, response, _ in TRAPS]
    for gold, response in cases:
        problem = Problem(id="q", prompt="", reference=gold)
        quick = quick_side.quick_verify(problem, response)
        if quick is None:
            continue
        decided += 1
        assert quick == full_side.verify(problem, response), (gold, response[-200:])
    assert decided >= 0.6 * len(cases), f"quick path decided only {decided} of {len(cases)}"
